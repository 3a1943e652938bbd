"""Call outcome + agent disposition -> DOSS change: the dealer's mapping, parsed and checked once.

Which DOSS state a call leads to is dealer policy, so it lives in
``config/doss_mapping.toml`` (the annotated default). This module is its only
reader. It refuses to start on a mapping that leaves any pair that can occur
unmapped, because an unmapped pair discovered at the agent's desk means a lost
DOSS record. Pure: no I/O beyond reading the file, time comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.errors import FormError
from dialer.domain.leads.model import IntentLevel, LeadState
from dialer.settings import ConfigError, read_toml

DEFAULT_MAPPING = Path("config/doss_mapping.toml")

_E = TypeVar("_E", bound=StrEnum)


class Disposition(StrEnum):
    """What the agent (or, for calls nobody answered, the dialer) says the call achieved."""

    BOOKED_VISIT = "booked_visit"
    RESCHEDULED = "rescheduled"  # 改约: an invited customer moves the booked visit to a new time
    INTERESTED_FOLLOW_UP = "interested_follow_up"
    CALLBACK = "callback"  # the customer asked to be called at another time
    REFUSED = "refused"  # declined this invitation; still a prospect
    DO_NOT_CALL = "do_not_call"  # 勿扰: no more calls or SMS; every number goes on the suppression list
    DEFEATED = "defeated"  # lost: bought elsewhere, gave up, ...
    WRONG_NUMBER = "wrong_number"
    NO_CONTACT = "no_contact"  # no conversation took place

    def possible_outcomes(self) -> frozenset[Outcome]:
        """The call outcomes this disposition can follow; the mapping must cover exactly these.

        Only a call an agent actually talked on can yield a conversation result; any
        call, even an answered one that dropped before a word, can end without contact.
        """
        if self is Disposition.NO_CONTACT:
            return frozenset(Outcome)
        return frozenset({Outcome.ANSWERED})


class FollowUpPurpose(StrEnum):
    """What the next contact is for (跟进目的). The handbook: a follow-up plan states its purpose,
    one of inviting to a test drive, an event, sending material, or other."""

    TEST_DRIVE = "test_drive"  # 邀约试驾
    EVENT = "event"  # 参加活动
    MAILING = "mailing"  # 邮寄资料
    OTHER = "other"  # 其它

    @property
    def zh(self) -> str:
        """The handbook's wording, as DOSS is told."""
        return _PURPOSE_ZH[self]


_PURPOSE_ZH: Mapping[FollowUpPurpose, str] = {
    FollowUpPurpose.TEST_DRIVE: "邀约试驾",
    FollowUpPurpose.EVENT: "参加活动",
    FollowUpPurpose.MAILING: "邮寄资料",
    FollowUpPurpose.OTHER: "其它",
}


class FormField(StrEnum):
    """Fields of the agent's disposition form that a mapping rule can require or allow."""

    VISIT_AT = "visit_at"
    NEXT_FOLLOW_UP_AT = "next_follow_up_at"
    DEFEAT_REASON = "defeat_reason"
    INTENT = "intent"
    PURPOSE = "purpose"
    MODEL = "model"
    NOTE = "note"


# Free information the agent may always add, whatever the disposition.
_ALWAYS_ALLOWED = frozenset({FormField.MODEL, FormField.NOTE})
_TIME_FIELDS = (FormField.VISIT_AT, FormField.NEXT_FOLLOW_UP_AT)
# States only the import (new) or a sales manager (reactivated) sets, never a call.
_NOT_A_CALL_RESULT = frozenset({LeadState.NEW, LeadState.REACTIVATED})


@dataclass(frozen=True, slots=True)
class DispositionForm:
    """What the agent submits after a call (or the dialer, with ``NO_CONTACT``, after an unanswered one)."""

    disposition: Disposition
    visit_at: datetime | None = None
    next_follow_up_at: datetime | None = None
    defeat_reason: str | None = None
    intent: IntentLevel | None = None
    purpose: FollowUpPurpose | None = None  # 跟进目的 of the next contact
    model: str | None = None  # 意向车型
    note: str | None = None

    def given(self) -> frozenset[FormField]:
        """The fields the agent filled in (blank text counts as not filled)."""
        out = set()
        for f in FormField:
            value = getattr(self, f.value)
            if value is not None and not (isinstance(value, str) and not value.strip()):
                out.add(f)
        return frozenset(out)


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the mapping: what a (outcome, disposition) pair does to the lead in DOSS."""

    state: LeadState | None  # None: the lead keeps its state (e.g. an unanswered call to an invited lead)
    result: str  # 跟进结果 wording in the import template
    intent: IntentLevel | None = None  # fixed level set by this result; None keeps the current one
    requires: frozenset[FormField] = frozenset()
    allows: frozenset[FormField] = frozenset()
    # Unanswered calls are noise in DOSS: report only from the Nth consecutive one on.
    report_after_attempts: int = 1


@dataclass(frozen=True, slots=True)
class DossChange:
    """The validated change one disposition makes to a lead; what the outbox and the export carry."""

    outcome: Outcome
    disposition: Disposition
    state: LeadState | None  # None: unchanged
    result: str
    intent: IntentLevel | None
    visit_at: datetime | None
    next_follow_up_at: datetime | None
    defeat_reason: str | None
    purpose: FollowUpPurpose | None
    model: str | None
    note: str | None
    # True: goes to DOSS (outbox row, export line). False: history only.
    sync: bool


@dataclass(frozen=True, slots=True)
class DossMapping:
    """The whole validated mapping; :meth:`apply` is what the disposition service calls."""

    rules: Mapping[tuple[Outcome, Disposition], Rule]
    defeat_reasons: tuple[str, ...]
    source: str = field(default="<defaults>")

    def rule(self, outcome: Outcome, disposition: Disposition) -> Rule:
        """The rule for a pair; a pair that cannot occur is a programming error, not a form error."""
        try:
            return self.rules[(outcome, disposition)]
        except KeyError:
            raise FormError(
                "disposition", f"{disposition.value!r} is not possible after a call that ended {outcome.value!r}"
            ) from None

    def apply(self, outcome: Outcome, form: DispositionForm, now: datetime, attempts: int = 1) -> DossChange:
        """Validate ``form`` against the rule for (outcome, disposition) and build the change.

        ``attempts`` counts the consecutive calls that did not reach the customer,
        this one included (1 after a call that did); it decides whether a rule with
        ``report_after_attempts`` reports yet.
        Raises :class:`FormError` naming the first field that is missing, not
        applicable, or out of range.
        """
        rule = self.rule(outcome, form.disposition)
        given = form.given()
        for missing in sorted(rule.requires - given):
            raise FormError(missing.value, f"required when the result is {form.disposition.value!r}")
        for extra in sorted(given - rule.requires - rule.allows - _ALWAYS_ALLOWED):
            raise FormError(extra.value, f"does not apply when the result is {form.disposition.value!r}")
        for f in _TIME_FIELDS:
            value = getattr(form, f.value)
            if value is None:
                continue
            if value.tzinfo is None:
                raise FormError(f.value, f"{value.isoformat()} has no time zone")
            if value <= now:
                raise FormError(f.value, f"{value.isoformat()} is not in the future")
        if form.defeat_reason is not None and form.defeat_reason not in self.defeat_reasons:
            raise FormError("defeat_reason", f"{form.defeat_reason!r} is not one of: {', '.join(self.defeat_reasons)}")
        if attempts < 1:
            raise ValueError(f"attempts = {attempts}: counts this attempt, so at least 1")
        return DossChange(
            outcome=outcome,
            disposition=form.disposition,
            state=rule.state,
            result=rule.result,
            intent=rule.intent or form.intent,
            visit_at=form.visit_at,
            next_follow_up_at=form.next_follow_up_at,
            defeat_reason=form.defeat_reason,
            purpose=form.purpose,
            model=form.model,
            note=form.note,
            sync=attempts >= rule.report_after_attempts,
        )


def load_mapping(path: str | Path = DEFAULT_MAPPING) -> DossMapping:
    """Read and validate the mapping file; every problem is a :class:`ConfigError` naming the file."""
    return parse_mapping(read_toml(path, "DOSS mapping"), str(Path(path)))


def parse_mapping(data: Mapping[str, Any], where: str) -> DossMapping:
    """Validate an already-parsed mapping document; ``where`` prefixes every error."""
    unknown = sorted(set(data) - {"defeat_reasons", "rule"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    reasons = data.get("defeat_reasons")
    if not isinstance(reasons, list) or not reasons or not all(isinstance(r, str) and r.strip() for r in reasons):
        raise ConfigError(f"{where}: defeat_reasons must be a non-empty list of texts")
    if len(set(reasons)) != len(reasons):
        raise ConfigError(f"{where}: defeat_reasons lists a reason twice")
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{where}: expected [[rule]] tables")
    rules: dict[tuple[Outcome, Disposition], Rule] = {}
    for index, raw in enumerate(raw_rules, start=1):
        disposition, outcomes, rule = _parse_rule(raw, f"{where}: rule #{index}")
        for outcome in outcomes:
            pair = (outcome, disposition)
            if pair not in _possible_pairs():
                raise ConfigError(
                    f"{where}: rule #{index}: outcome {outcome.value!r} with disposition "
                    f"{disposition.value!r} cannot occur"
                )
            if rule.report_after_attempts > 1 and outcome.talked_with_agent:
                raise ConfigError(
                    f"{where}: rule #{index}: report_after_attempts = {rule.report_after_attempts} with outcome "
                    f"{outcome.value!r}: a conversation restarts the count, so it would never be reported"
                )
            if pair in rules:
                raise ConfigError(
                    f"{where}: rule #{index}: outcome {outcome.value!r} with disposition "
                    f"{disposition.value!r} is mapped twice"
                )
            rules[pair] = rule
    missing = sorted(_possible_pairs() - set(rules))
    if missing:
        listed = ", ".join(f"({o.value}, {d.value})" for o, d in missing)
        raise ConfigError(f"{where}: no rule for outcome/disposition pair(s) {listed}")
    return DossMapping(rules=rules, defeat_reasons=tuple(reasons), source=where)


def _possible_pairs() -> frozenset[tuple[Outcome, Disposition]]:
    return frozenset((o, d) for d in Disposition for o in d.possible_outcomes())


def _parse_rule(raw: Any, where: str) -> tuple[Disposition, list[Outcome], Rule]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table")
    known = {"disposition", "outcomes", "state", "result", "intent", "requires", "allows", "report_after_attempts"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    disposition = _enum(Disposition, raw.get("disposition"), f"{where}: disposition")
    outcomes_raw = raw.get("outcomes")
    if not isinstance(outcomes_raw, list) or not outcomes_raw:
        raise ConfigError(f"{where}: outcomes must be a non-empty list")
    outcomes = [_enum(Outcome, o, f"{where}: outcomes") for o in outcomes_raw]
    result = raw.get("result")
    if not isinstance(result, str) or not result.strip():
        raise ConfigError(f"{where}: result (the 跟进结果 wording) must be a non-empty text")
    requires = _field_set(raw.get("requires", []), f"{where}: requires")
    allows = _field_set(raw.get("allows", []), f"{where}: allows")
    both = requires & allows
    if both:
        raise ConfigError(f"{where}: {', '.join(sorted(both))} both required and allowed")
    intent = _enum(IntentLevel, raw["intent"], f"{where}: intent") if "intent" in raw else None
    if intent is not None and FormField.INTENT in requires | allows:
        raise ConfigError(f"{where}: intent is fixed to {intent.value}, so the form cannot set it")
    after = raw.get("report_after_attempts", 1)
    if isinstance(after, bool) or not isinstance(after, int) or after < 1:
        raise ConfigError(f"{where}: report_after_attempts = {after!r}: must be a whole number >= 1")
    state = _enum(LeadState, raw["state"], f"{where}: state") if "state" in raw else None
    if state in _NOT_A_CALL_RESULT:
        raise ConfigError(f"{where}: state = {state.value!r}: a call cannot put a lead back to {state.value}")
    rule = Rule(
        state=state,
        result=result,
        intent=intent,
        requires=requires,
        allows=allows,
        report_after_attempts=after,
    )
    return disposition, outcomes, rule


def _field_set(value: Any, where: str) -> frozenset[FormField]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of form fields")
    return frozenset(_enum(FormField, v, where) for v in value)


def _enum(cls: type[_E], value: Any, where: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise ConfigError(f"{where} = {value!r}: must be one of {choices}") from None
