"""The outcome/disposition -> DOSS mapping: the shipped default, start-up checks, form validation."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dialer.domain.calls.outcome import Outcome
from dialer.domain.doss.errors import FormError
from dialer.domain.doss.mapping import (
    Disposition,
    DispositionForm,
    FollowUpPurpose,
    load_mapping,
    parse_mapping,
)
from dialer.domain.leads.model import IntentLevel, LeadState
from dialer.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = ROOT / "config" / "doss_mapping.toml"
NOW = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
TOMORROW = NOW + timedelta(days=1)


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(DEFAULT_FILE)


def _default_doc() -> dict:
    return tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))


def test_default_file_covers_every_possible_pair(mapping):
    expected = {(o, d) for d in Disposition for o in d.possible_outcomes()}
    assert set(mapping.rules) == expected
    # 7 conversation results after "answered" + no_contact after each of the 11 outcomes.
    assert len(mapping.rules) == 8 + len(Outcome)


def test_booked_visit_is_invitation_with_date_and_intent_h(mapping):
    change = mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=TOMORROW), NOW)
    assert change.state is LeadState.INVITED
    assert change.intent is IntentLevel.H
    assert change.visit_at == TOMORROW
    assert change.sync


def test_booked_visit_without_date_names_the_field(mapping):
    with pytest.raises(FormError) as err:
        mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT), NOW)
    assert err.value.field == "visit_at"


def test_refused_requires_next_follow_up(mapping):
    with pytest.raises(FormError) as err:
        mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.REFUSED, note="太忙"), NOW)
    assert err.value.field == "next_follow_up_at"
    change = mapping.apply(
        Outcome.ANSWERED,
        DispositionForm(
            Disposition.REFUSED, next_follow_up_at=TOMORROW, intent=IntentLevel.C, purpose=FollowUpPurpose.MAILING
        ),
        NOW,
    )
    assert (change.state, change.intent, change.next_follow_up_at) == (LeadState.FOLLOWING, IntentLevel.C, TOMORROW)


def test_follow_up_in_the_past_is_refused(mapping):
    with pytest.raises(FormError) as err:
        mapping.apply(
            Outcome.ANSWERED,
            DispositionForm(Disposition.REFUSED, next_follow_up_at=NOW, purpose=FollowUpPurpose.OTHER),
            NOW,
        )
    assert err.value.field == "next_follow_up_at"
    assert "not in the future" in str(err.value)


def test_naive_time_is_refused(mapping):
    with pytest.raises(FormError, match="time zone"):
        mapping.apply(
            Outcome.ANSWERED, DispositionForm(Disposition.BOOKED_VISIT, visit_at=datetime(2026, 12, 1, 10)), NOW
        )


def test_vacant_and_wrong_number_are_invalid(mapping):
    vacant = mapping.apply(Outcome.VACANT, DispositionForm(Disposition.NO_CONTACT), NOW)
    wrong = mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.WRONG_NUMBER), NOW)
    assert vacant.state is wrong.state is LeadState.INVALID


def test_defeated_needs_a_reason_from_the_list(mapping):
    with pytest.raises(FormError) as err:
        mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.DEFEATED), NOW)
    assert err.value.field == "defeat_reason"
    with pytest.raises(FormError, match="'心情不好' is not one of"):
        mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.DEFEATED, defeat_reason="心情不好"), NOW)
    change = mapping.apply(Outcome.ANSWERED, DispositionForm(Disposition.DEFEATED, defeat_reason="已购竞品"), NOW)
    assert (change.state, change.defeat_reason) == (LeadState.DEFEATED, "已购竞品")


def test_field_that_does_not_apply_is_refused(mapping):
    with pytest.raises(FormError) as err:
        mapping.apply(
            Outcome.ANSWERED,
            DispositionForm(Disposition.BOOKED_VISIT, visit_at=TOMORROW, defeat_reason="其他"),
            NOW,
        )
    assert err.value.field == "defeat_reason"


def test_no_contact_reported_only_from_the_third_attempt(mapping):
    form = DispositionForm(Disposition.NO_CONTACT, next_follow_up_at=TOMORROW)
    streak = [mapping.apply(Outcome.BUSY, form, NOW, attempts=n) for n in (1, 2, 3, 4)]
    assert [c.sync for c in streak] == [False, False, True, True]
    # the lead keeps whatever state it had (an invited lead stays invited)
    assert all(c.state is None for c in streak)
    assert streak[2].next_follow_up_at == TOMORROW


def test_conversation_result_after_unanswered_call_is_a_form_error(mapping):
    with pytest.raises(FormError) as err:
        mapping.apply(Outcome.BUSY, DispositionForm(Disposition.BOOKED_VISIT, visit_at=TOMORROW), NOW)
    assert err.value.field == "disposition"


def test_unmapped_pair_is_a_config_error_naming_file_and_pair(tmp_path):
    doc = _default_doc()
    doc["rule"] = [r for r in doc["rule"] if r["disposition"] != "callback"]
    with pytest.raises(ConfigError) as err:
        parse_mapping(doc, "my.toml")
    assert "my.toml" in str(err.value)
    assert "(answered, callback)" in str(err.value)


def test_outcome_missing_from_no_contact_rule_is_reported(tmp_path):
    doc = _default_doc()
    doc["rule"][-1]["outcomes"].remove("machine")
    with pytest.raises(ConfigError, match=r"\(machine, no_contact\)"):
        parse_mapping(doc, "x.toml")


def test_streak_rule_on_a_conversation_is_a_config_error():
    doc = _default_doc()
    doc["rule"][-2]["report_after_attempts"] = 2  # answered / early_hangup / abandoned + no_contact
    with pytest.raises(ConfigError, match="outcome 'answered': a conversation restarts the count"):
        parse_mapping(doc, "x.toml")


def test_pair_mapped_twice_is_a_config_error():
    doc = _default_doc()
    doc["rule"].append(dict(doc["rule"][0]))
    with pytest.raises(ConfigError, match=r"booked_visit.*mapped twice"):
        parse_mapping(doc, "x.toml")


def test_impossible_pair_is_a_config_error():
    doc = _default_doc()
    doc["rule"][0]["outcomes"] = ["answered", "busy"]
    with pytest.raises(ConfigError, match="'busy' with disposition 'booked_visit' cannot occur"):
        parse_mapping(doc, "x.toml")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"state": "sold"}, "state = 'sold'"),
        ({"state": "new"}, "cannot put a lead back to new"),
        ({"requires": ["visit_date"]}, "requires = 'visit_date'"),
        ({"intent": "Z"}, "intent = 'Z'"),
        ({"report_after_attempts": 0}, "report_after_attempts = 0"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_bad_rule_values_name_rule_and_key(patch, message):
    doc = _default_doc()
    doc["rule"][0].update(patch)
    with pytest.raises(ConfigError, match="rule #1") as err:
        parse_mapping(doc, "x.toml")
    assert message in str(err.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_mapping(tmp_path / "nope.toml")


def test_empty_defeat_reasons_is_a_config_error():
    doc = _default_doc()
    doc["defeat_reasons"] = []
    with pytest.raises(ConfigError, match="defeat_reasons"):
        parse_mapping(doc, "x.toml")


def test_a_follow_up_plan_states_its_purpose_and_doss_hears_it(mapping):
    """The handbook: a follow-up plan states its purpose (邀约试驾, 参加活动, 邮寄资料 or 其它)."""
    plan = DispositionForm(Disposition.CALLBACK, next_follow_up_at=TOMORROW)
    with pytest.raises(FormError) as err:
        mapping.apply(Outcome.ANSWERED, plan, NOW)
    assert err.value.field == "purpose"
    change = mapping.apply(Outcome.ANSWERED, dataclasses.replace(plan, purpose=FollowUpPurpose.EVENT), NOW)
    assert change.purpose is FollowUpPurpose.EVENT and change.purpose.zh == "参加活动"
    # A booked visit may say what it is for; a lost lead has no next contact to plan.
    visit = DispositionForm(Disposition.BOOKED_VISIT, visit_at=TOMORROW, purpose=FollowUpPurpose.TEST_DRIVE)
    assert mapping.apply(Outcome.ANSWERED, visit, NOW).purpose is FollowUpPurpose.TEST_DRIVE
    lost = DispositionForm(Disposition.DEFEATED, defeat_reason="价格原因", purpose=FollowUpPurpose.OTHER)
    with pytest.raises(FormError) as err:
        mapping.apply(Outcome.ANSWERED, lost, NOW)
    assert err.value.field == "purpose"
