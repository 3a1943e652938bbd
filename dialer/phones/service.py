"""The phones' SIP accounts over the store: what ``dialer phones`` and ``dialer pbx render`` call.

A new or reset account gets a generated password, handed back once (:class:`NewPassword`) for the
admin to type into the phone; only its digest secret is stored. The running PBX learns a change
when the configuration is rendered again and reloaded (``dialer pbx render``, ``pjsip reload``).
"""

from __future__ import annotations

from dialer.clock import Clock
from dialer.domain.access.dealers import EVERY_DEALER, DealerScope
from dialer.domain.pbx.phones import (
    NewPassword,
    PhoneAccount,
    PhoneError,
    PhoneNotFound,
    PhoneRepository,
    check_endpoint,
    ha1,
    new_password,
)
from dialer.logs import get_logger

log = get_logger(__name__)


class PhoneService:
    """Adds, lists, resets and removes phone accounts."""

    def __init__(self, store: PhoneRepository, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def accounts(self, dealers: DealerScope = EVERY_DEALER) -> list[PhoneAccount]:
        """Every account (of the dealers ``dealers`` sees), by endpoint."""
        return await self._store.all(dealers)

    async def account(self, endpoint: str) -> PhoneAccount | None:
        """The account of ``endpoint`` (its digest secret: what a browser phone authenticates with), or None."""
        return await self._store.get(endpoint)

    async def add(self, endpoint: str) -> NewPassword:
        """A new account for ``endpoint`` with a generated password (returned, not stored)."""
        check_endpoint(endpoint)
        password = new_password()
        account = await self._store.add(PhoneAccount(endpoint, ha1(endpoint, password), created_at=self._clock.now()))
        if account is None:
            raise PhoneError(f"endpoint = {endpoint!r}: already has an account (dialer phones reset {endpoint})")
        log.info("phones.added", endpoint=endpoint)
        return NewPassword(account, password)

    async def reset(self, endpoint: str, dealers: DealerScope = EVERY_DEALER) -> NewPassword:
        """A new generated password for ``endpoint``; the old one stops working once the PBX is re-rendered.
        :class:`PhoneNotFound` for an account of a dealer ``dealers`` does not see."""
        password = new_password()
        at = self._clock.now()
        if not await self._store.set_ha1(endpoint, ha1(endpoint, password), at, dealers):
            raise PhoneNotFound(f"endpoint = {endpoint!r}: no such phone account")
        log.info("phones.password_reset", endpoint=endpoint)
        account = await self._store.get(endpoint)
        assert account is not None, "just updated"
        return NewPassword(account, password)

    async def remove(self, endpoint: str, dealers: DealerScope = EVERY_DEALER) -> None:
        """Delete ``endpoint``'s account (a phone taken out of service; one of the dealers ``dealers`` sees)."""
        if not await self._store.remove(endpoint, dealers):
            raise PhoneNotFound(f"endpoint = {endpoint!r}: no such phone account")
        log.info("phones.removed", endpoint=endpoint)
