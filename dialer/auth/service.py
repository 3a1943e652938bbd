"""Users, logins and sessions over the store: what ``dialer users`` and the web console call.

Hashing runs in a worker thread: scrypt at the default cost takes a fraction of a second of CPU,
which must not stall the event loop that carries the wallboard and the call events.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, MAIN_DEALER_CODE, MAIN_DEALER_ID, DealerScope, split_qualified
from dialer.domain.access.policy import Role, User
from dialer.domain.audit.model import SYSTEM, AuditAction, AuditTrail
from dialer.domain.auth.errors import BadUserInput, LoginRefused, UserExists
from dialer.domain.auth.passwords import (
    DEFAULT_COST,
    ScryptCost,
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from dialer.domain.auth.records import SessionRecord, UserRecord
from dialer.domain.auth.throttle import LoginThrottle, ThrottleRules
from dialer.domain.auth.totp import ROLES as TOTP_ROLES
from dialer.domain.auth.totp import accepted_step, new_secret, provisioning_uri
from dialer.logs import get_logger
from dialer.phone import DEFAULT_REGION, InvalidPhone, normalize
from dialer.settings import WebSettings
from dialer.store.errors import IntegrityError
from dialer.store.totp import TotpStore
from dialer.store.users import UserStore

log = get_logger(__name__)

# Letters (any script: Chinese names are fine), digits, '.', '_', '-'; no spaces or markup.
_NAME = re.compile(r"^[\w.\-]{1,64}$")
_TOKEN_BYTES = 32
# A hash to verify against when the name is unknown, so both cases take the same time.
_DUMMY_PASSWORD = "not-a-real-password"


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def as_policy_user(user: UserRecord) -> User:
    """The access policy's view of a stored user."""
    return User(name=user.name, role=user.role, agent=user.agent)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie token (shown to the browser once) and its CSRF token."""

    token: str
    csrf: str
    user: UserRecord
    expires_at: datetime


class AuthService:
    """Adds users, checks passwords with throttling, opens, finds and ends sessions.

    Logins, failed password checks, logouts and every change to a user are written to the audit
    trail (throttled attempts, refused before any check, only to the structured log: a flood of
    them must not grow the table)."""

    def __init__(
        self,
        users: UserStore,
        totp: TotpStore,
        web: WebSettings,
        clock: Clock,
        audit: AuditTrail,
        cost: ScryptCost = DEFAULT_COST,
        *,
        region: str = DEFAULT_REGION,
        dealer_id: int = MAIN_DEALER_ID,
        dealer_code: str = MAIN_DEALER_CODE,
    ) -> None:
        self._dealer_id = dealer_id  # this node's dealer: whose a new user is unless told, whose logins are plain
        self._dealer_code = dealer_code
        self._users = users
        self._totp = totp
        self._audit = audit
        self._region = region
        self._web = web
        self._clock = clock
        self._cost = cost
        self._throttle = LoginThrottle(ThrottleRules.from_settings(web), ThrottleRules.name_wide(web))
        self._dummy_hash: str | None = None

    async def add_user(
        self,
        name: str,
        role: str,
        password: str,
        agent: str | None = None,
        mobile: str | None = None,
        *,
        actor: str = SYSTEM,
        dealer_id: int | None = None,
        group: bool = False,
    ) -> UserRecord:
        """Create a login; agents get ``agent`` (default: their name) as the identity their work is filed
        under, one per person (docs/leads.md, "Owners"); ``mobile`` is where their customers' visit notices go.

        ``actor``: who adds it, for the audit log (the dialer itself unless a person does). The user is
        ``dealer_id``'s (default: this node's dealer), or with ``group`` the whole group's (sees every
        dealer); an agent's work is always one dealer's."""
        if group and dealer_id is not None:
            raise BadUserInput("dealer", str(dealer_id), "a group-wide user has no dealer of their own")
        if not _NAME.match(name):
            raise BadUserInput("name", name, "use 1-64 letters, digits, '.', '_' or '-'")
        try:
            parsed = Role(role)
        except ValueError:
            raise BadUserInput("role", role, f"must be one of {', '.join(r.value for r in Role)}") from None
        if group and parsed is Role.AGENT:
            raise BadUserInput("role", role, "an agent works for one dealer: name it instead of the group")
        check_new_password(password, name)
        owner = None if group else (self._dealer_id if dealer_id is None else dealer_id)
        identity = (agent or name) if parsed is Role.AGENT else agent
        if identity is not None:
            if not _NAME.match(identity):
                raise BadUserInput("agent", identity, "use 1-64 letters, digits, '.', '_' or '-'")
            holder = await self._users.by_agent(identity, owner)
            if holder is not None:
                raise BadUserInput("agent", identity, f"is already the identity of {holder.name}: one per person")
        await self._login_apart(name, owner)
        number = None if mobile is None else self._mobile(mobile)
        hashed = await asyncio.to_thread(hash_password, password, self._cost)
        try:
            user = await self._users.add(
                name=name,
                role=parsed,
                agent=identity,
                password_hash=hashed,
                at=self._clock.now(),
                mobile=number,
                dealer_id=owner,
            )
        except IntegrityError:
            raise UserExists(f"user {name!r} already exists") from None
        log.info("auth.user_added", user=name, role=parsed.value)
        await self._audit.record(
            actor,
            AuditAction.USER_ADD,
            name,
            {"role": parsed.value, "agent": identity, "dealer_id": user.dealer_id},
            dealer_id=user.dealer_id,
        )
        return user

    async def _login_apart(self, name: str, dealer_id: int | None) -> None:
        """A group-wide user's login is no dealer user's login and the reverse, so a plain login at a
        node means one person (the node's dealer's, else the group's); dealers may share logins."""
        for other in await self._users.with_login(name):
            if other.dealer_id is None and dealer_id is not None:
                raise BadUserInput("name", name, "is a group-wide user's login: a dealer's user needs another")
            if dealer_id is None and other.dealer_id is not None:
                raise BadUserInput("name", name, "is a dealer's user's login: a group-wide user needs another")

    async def set_password(self, name: str, password: str, *, actor: str) -> None:
        """A new password for ``name``; every session of theirs ends (whoever else knew the old one is out)."""
        user = await self._user(name)
        check_new_password(password, name)
        await self._users.set_password_hash(user.id, await asyncio.to_thread(hash_password, password, self._cost))
        ended = await self._users.end_sessions_of(user.id)
        log.info("auth.password_changed", user=name, sessions_ended=ended)
        await self._audit.record(
            actor, AuditAction.USER_PASSWORD, name, {"sessions_ended": ended}, dealer_id=user.dealer_id
        )

    async def disable(self, name: str, *, actor: str) -> None:
        """``name`` may no longer log in, and is logged out everywhere at once (a departing employee)."""
        user = await self._user(name)
        await self._users.set_disabled(user.id, self._clock.now())
        ended = await self._users.end_sessions_of(user.id)
        log.info("auth.user_disabled", user=name, sessions_ended=ended)
        await self._audit.record(
            actor, AuditAction.USER_DISABLE, name, {"sessions_ended": ended}, dealer_id=user.dealer_id
        )

    async def end_sessions(self, name: str, *, actor: str) -> int:
        """Log ``name`` out everywhere (a lost laptop, a shared screen) without changing anything else;
        how many sessions ended."""
        user = await self._user(name)
        ended = await self._users.end_sessions_of(user.id)
        log.info("auth.sessions_ended", user=name, sessions_ended=ended)
        await self._audit.record(
            actor, AuditAction.USER_SESSIONS_END, name, {"sessions_ended": ended}, dealer_id=user.dealer_id
        )
        return ended

    async def enable(self, name: str, *, actor: str) -> None:
        """``name`` may log in again (with the password they had)."""
        user = await self._user(name)
        await self._users.set_disabled(user.id, None)
        log.info("auth.user_enabled", user=name)
        await self._audit.record(actor, AuditAction.USER_ENABLE, name, dealer_id=user.dealer_id)

    async def set_mobile(self, name: str, mobile: str | None) -> UserRecord:
        """``name``'s own mobile (None: forget it), where the visit notices for their customers go."""
        user = await self._user(name)
        number = None if mobile is None else self._mobile(mobile)
        await self._users.set_mobile(user.id, number)
        log.info("auth.mobile_set", user=name, mobile=bool(number))
        return await self._user(name)

    def _mobile(self, raw: str) -> str:
        try:
            phone = normalize(raw, self._region)
        except InvalidPhone as exc:
            raise BadUserInput("mobile", raw, exc.reason) from None
        if not phone.mobile:
            raise BadUserInput("mobile", raw, "not a mobile number: SMS notices go to mobiles only")
        return phone.e164

    async def find(self, login: str) -> UserRecord | None:
        """Who ``login`` means at this node: ``code/name`` (a dealer's user, at any node), or a plain name
        (this node's dealer's user, else the group's)."""
        return await self._users.at_node(login, self._dealer_id)

    async def _user(self, name: str) -> UserRecord:
        user = await self.find(name)
        if user is None:
            raise BadUserInput("name", name, "no such user")
        return user

    async def users(self, dealers: DealerScope = EVERY_DEALER) -> list[UserRecord]:
        """Every login ``dealers`` sees, by name."""
        return await self._users.all(dealers)

    async def enrol_totp(self, name: str, *, actor: str) -> tuple[str, str]:
        """A new authenticator secret for a supervisor or admin: ``(secret, otpauth URI)``, shown once.

        From now on their login needs a code; an earlier secret stops working."""
        user = await self._user(name)
        if user.role not in TOTP_ROLES:
            raise BadUserInput("name", name, f"two-factor login is for {', '.join(sorted(TOTP_ROLES))} only")
        secret = new_secret()
        await self._totp.enrol(user.id, secret, self._clock.now())
        log.info("auth.totp_enrolled", user=name)
        await self._audit.record(actor, AuditAction.USER_TOTP_ENROL, name, dealer_id=user.dealer_id)
        return secret, provisioning_uri(secret, name)

    async def remove_totp(self, name: str, *, actor: str) -> None:
        """``name`` logs in with the password alone again (a lost phone; enrol anew afterwards)."""
        user = await self._user(name)
        if not await self._totp.remove(user.id):
            raise BadUserInput("name", name, "has no authenticator enrolled")
        log.info("auth.totp_removed", user=name)
        await self._audit.record(actor, AuditAction.USER_TOTP_REMOVE, name, dealer_id=user.dealer_id)

    async def _second_factor(self, user: UserRecord, code: str) -> str | None:
        """None when the user passes the second factor, else why not (for the audit row)."""
        enrolment = await self._totp.of(user.id)
        if enrolment is None:
            required = self._web.totp_required and user.role in TOTP_ROLES
            return "totp_not_enrolled" if required else None
        step = accepted_step(enrolment.secret, code, self._clock.now(), enrolment.last_step)
        if step is None or not await self._totp.claim(user.id, step):
            return "wrong_code"
        return None

    async def login(self, name: str, password: str, address: str, code: str = "") -> NewSession:
        """Check the password (throttled per name and address, per address and per name; see
        dialer.domain.auth.throttle), for an enrolled user also the authenticator ``code``, and open a session."""
        now_mono = self._clock.monotonic()
        # This node's dealer's "code/name" is the plain name here: one account, one throttle.
        dealer_code, plain = split_qualified(name)
        key = plain if dealer_code == self._dealer_code else name
        wait = self._throttle.attempt(key, address, now_mono)
        if wait > 0:
            log.warning("auth.login_throttled", user=name, address=address, retry_after_s=round(wait, 1))
            raise LoginRefused(wait)
        user = await self.find(name)
        stored = user.password_hash if user is not None else await self._dummy()
        ok = await asyncio.to_thread(verify_password, password, stored)
        why = (
            "unknown_user" if user is None else "wrong_password" if not ok else "disabled" if user.disabled_at else None
        )
        if user is not None and why is None:
            why = await self._second_factor(user, code)
        if user is None or why is not None:
            log.warning("auth.login_failed", user=name, address=address, reason=why)  # counted by attempt()
            await self._audit.record(
                name, AuditAction.LOGIN_FAILED, name, {"address": address, "reason": why},
                dealer_id=None if user is None else user.dealer_id,
            )  # fmt: skip
            raise LoginRefused(self._throttle.wait(key, address, now_mono))
        self._throttle.succeeded(key, address)
        if needs_rehash(user.password_hash, self._cost):
            await self._users.set_password_hash(user.id, await asyncio.to_thread(hash_password, password, self._cost))
        token, csrf = secrets.token_urlsafe(_TOKEN_BYTES), secrets.token_urlsafe(_TOKEN_BYTES)
        now = self._clock.now()
        expires = now + timedelta(seconds=self._web.session_max_age_s)
        await self._users.add_session(
            token_hash=token_hash(token), user_id=user.id, csrf=csrf, at=now, expires_at=expires
        )
        log.info("auth.login", user=name, role=user.role.value, address=address)
        await self._audit.record(name, AuditAction.LOGIN, name, {"address": address}, dealer_id=user.dealer_id)
        return NewSession(token, csrf, user, expires)

    async def still_valid(self, token: str) -> bool:
        """Whether the session behind ``token`` may still be used, without counting this as activity
        (an open websocket asks every few seconds; it must not keep an idle session alive)."""
        found = await self._users.session(token_hash(token))
        return found is not None and self._usable(found, self._clock.now())

    async def session(self, token: str) -> SessionRecord | None:
        """The live session behind a cookie token, or None (unknown, expired, idle too long, user disabled)."""
        hashed = token_hash(token)
        found = await self._users.session(hashed)
        if found is None:
            return None
        now = self._clock.now()
        if not self._usable(found, now):
            await self._users.end_session(hashed)
            return None
        await self._users.touch_session(hashed, now)
        return found

    def _usable(self, found: SessionRecord, now: datetime) -> bool:
        """Not expired, not idle too long, and its user not disabled."""
        idle_until = found.last_seen_at + timedelta(seconds=self._web.session_idle_s)
        return now < found.expires_at and now < idle_until and found.user.disabled_at is None

    async def logout(self, token: str) -> None:
        """End the session; unknown tokens are ignored (logging out twice is not an error)."""
        hashed = token_hash(token)
        found = await self._users.session(hashed)
        await self._users.end_session(hashed)
        if found is not None:
            await self._audit.record(
                found.user.name, AuditAction.LOGOUT, found.user.name, dealer_id=found.user.dealer_id
            )

    async def purge(self) -> int:
        """Forget expired sessions (run now and then; expired ones are refused anyway)."""
        return await self._users.purge_sessions(self._clock.now())

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(hash_password, _DUMMY_PASSWORD, self._cost)
        return self._dummy_hash
