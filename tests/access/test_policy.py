"""The access matrix as a table: every role against every action, own and others' calls."""

from __future__ import annotations

import pytest

from dialer.domain.access.policy import MATRIX, AccessDecision, Action, Reason, Resource, Role, User, can

AGENT = User("zhang", Role.AGENT, agent="agent1")
SUPERVISOR = User("li", Role.SUPERVISOR)
QA = User("wang", Role.QA)
SALES = User("zhao", Role.SALES_MANAGER)
ADMIN = User("root", Role.ADMIN)
OWN = Resource(agent="agent1")
OTHERS = Resource(agent="agent2")

# (user, action, resource) -> allowed. Written out rather than derived from MATRIX, so a change
# to the matrix must be made here too, on purpose.
EXPECTED = [
    (AGENT, Action.CALL_PLACE, OWN, True),
    (AGENT, Action.CALL_PLACE, OTHERS, False),
    (AGENT, Action.CALL_WINDOW_OVERRIDE, OWN, False),
    (SUPERVISOR, Action.CALL_PLACE, OTHERS, True),
    (SUPERVISOR, Action.CALL_WINDOW_OVERRIDE, OTHERS, True),
    (QA, Action.CALL_PLACE, OTHERS, False),
    (SALES, Action.CALL_PLACE, OTHERS, False),
    (SALES, Action.CALL_WINDOW_OVERRIDE, OTHERS, False),
    (ADMIN, Action.CALL_PLACE, OTHERS, False),
    (QA, Action.CALL_WINDOW_OVERRIDE, OTHERS, False),
    (ADMIN, Action.CALL_WINDOW_OVERRIDE, OTHERS, False),
    (AGENT, Action.RECORDING_PLAY, OWN, True),
    (AGENT, Action.RECORDING_PLAY, OTHERS, False),
    (AGENT, Action.RECORDING_SEARCH, OWN, True),
    (AGENT, Action.RECORDING_SEARCH, OTHERS, False),
    (AGENT, Action.RECORDING_DOWNLOAD, OWN, False),
    (AGENT, Action.RECORDING_DELETE, OWN, False),
    (AGENT, Action.LISTEN_IN_START, OTHERS, False),
    (AGENT, Action.QA_SCORE, OWN, False),
    (AGENT, Action.QA_REPORT_VIEW, OWN, True),
    (AGENT, Action.QA_REPORT_VIEW, OTHERS, False),
    (AGENT, Action.RECORDING_AUDIT_VIEW, OWN, False),
    (SUPERVISOR, Action.RECORDING_PLAY, OTHERS, True),
    (SUPERVISOR, Action.RECORDING_DOWNLOAD, OTHERS, True),
    (SUPERVISOR, Action.RECORDING_DELETE, OTHERS, False),
    (SUPERVISOR, Action.LISTEN_IN_START, OTHERS, True),
    (SUPERVISOR, Action.QA_SCORE, OTHERS, True),
    (SUPERVISOR, Action.QA_REPORT_VIEW, Resource(), True),
    (SUPERVISOR, Action.RECORDING_AUDIT_VIEW, OTHERS, True),
    (QA, Action.RECORDING_PLAY, OTHERS, True),
    (QA, Action.RECORDING_DOWNLOAD, OTHERS, True),
    (QA, Action.RECORDING_DELETE, OTHERS, False),
    (QA, Action.LISTEN_IN_START, OTHERS, True),
    (QA, Action.QA_SCORE, OTHERS, True),
    (QA, Action.RECORDING_AUDIT_VIEW, OTHERS, False),
    (SALES, Action.RECORDING_PLAY, OTHERS, True),
    (SALES, Action.RECORDING_SEARCH, OTHERS, True),
    (SALES, Action.RECORDING_DOWNLOAD, OTHERS, False),
    (SALES, Action.LISTEN_IN_START, OTHERS, False),
    (SALES, Action.QA_SCORE, OTHERS, False),
    (SALES, Action.QA_REPORT_VIEW, Resource(), True),
    (ADMIN, Action.RECORDING_DELETE, OTHERS, True),
    (ADMIN, Action.RECORDING_PLAY, OTHERS, False),
    (ADMIN, Action.RECORDING_DOWNLOAD, OTHERS, False),
    (ADMIN, Action.LISTEN_IN_START, OTHERS, False),
    (ADMIN, Action.QA_SCORE, OTHERS, False),
    (ADMIN, Action.RECORDING_AUDIT_VIEW, OTHERS, True),
    (SUPERVISOR, Action.RECORDING_SEARCH, OTHERS, True),
    (QA, Action.RECORDING_SEARCH, OTHERS, True),
    (QA, Action.QA_REPORT_VIEW, Resource(), True),
    (SALES, Action.RECORDING_DELETE, OTHERS, False),
    (SALES, Action.RECORDING_AUDIT_VIEW, OTHERS, False),
    (ADMIN, Action.RECORDING_SEARCH, OTHERS, False),
    (ADMIN, Action.QA_REPORT_VIEW, Resource(), False),
    # The web console's screens.
    (AGENT, Action.DESK_VIEW, OWN, True),
    (SUPERVISOR, Action.DESK_VIEW, OTHERS, True),
    (QA, Action.DESK_VIEW, OTHERS, False),
    (SALES, Action.DESK_VIEW, OTHERS, False),
    (ADMIN, Action.DESK_VIEW, OTHERS, False),
    (AGENT, Action.LEAD_VIEW, OTHERS, False),
    (SUPERVISOR, Action.LEAD_VIEW, OTHERS, True),
    (QA, Action.LEAD_VIEW, OTHERS, True),
    (SALES, Action.LEAD_VIEW, OTHERS, True),
    (ADMIN, Action.LEAD_VIEW, OTHERS, False),
    (AGENT, Action.DISPOSITION_RECORD, OWN, True),
    (SUPERVISOR, Action.DISPOSITION_RECORD, OTHERS, True),
    (QA, Action.DISPOSITION_RECORD, OTHERS, False),
    (SALES, Action.DISPOSITION_RECORD, OTHERS, False),
    (ADMIN, Action.DISPOSITION_RECORD, OTHERS, False),
    (AGENT, Action.MILESTONE_RECORD, OWN, True),
    (AGENT, Action.MILESTONE_RECORD, OTHERS, False),
    (SUPERVISOR, Action.MILESTONE_RECORD, OTHERS, True),
    (QA, Action.MILESTONE_RECORD, OTHERS, False),
    (SALES, Action.MILESTONE_RECORD, OTHERS, True),
    (ADMIN, Action.MILESTONE_RECORD, OTHERS, False),
    (AGENT, Action.LEAD_IMPORT, Resource(), False),
    (SUPERVISOR, Action.LEAD_IMPORT, Resource(), True),
    (QA, Action.LEAD_IMPORT, Resource(), False),
    (SALES, Action.LEAD_IMPORT, Resource(), True),
    (ADMIN, Action.LEAD_IMPORT, Resource(), False),
    (AGENT, Action.LEAD_REACTIVATE, OWN, False),
    (SUPERVISOR, Action.LEAD_REACTIVATE, OTHERS, True),
    (QA, Action.LEAD_REACTIVATE, OTHERS, False),
    (SALES, Action.LEAD_REACTIVATE, OTHERS, True),
    (ADMIN, Action.LEAD_REACTIVATE, OTHERS, False),
    (AGENT, Action.LEAD_ASSIGN, OWN, False),
    (SUPERVISOR, Action.LEAD_ASSIGN, OTHERS, True),
    (QA, Action.LEAD_ASSIGN, OTHERS, False),
    (SALES, Action.LEAD_ASSIGN, OTHERS, True),
    (ADMIN, Action.LEAD_ASSIGN, OTHERS, False),
    (AGENT, Action.WALLBOARD_VIEW, Resource(), False),
    (SUPERVISOR, Action.WALLBOARD_VIEW, Resource(), True),
    (QA, Action.WALLBOARD_VIEW, Resource(), True),
    (SALES, Action.WALLBOARD_VIEW, Resource(), True),
    (ADMIN, Action.WALLBOARD_VIEW, Resource(), False),
    (AGENT, Action.KPI_REPORT_VIEW, Resource(), False),
    (SUPERVISOR, Action.KPI_REPORT_VIEW, Resource(), True),
    (QA, Action.KPI_REPORT_VIEW, Resource(), True),
    (SALES, Action.KPI_REPORT_VIEW, Resource(), True),
    (ADMIN, Action.KPI_REPORT_VIEW, Resource(), False),
    (AGENT, Action.USER_LIST, Resource(), False),
    (SUPERVISOR, Action.USER_LIST, Resource(), False),
    (QA, Action.USER_LIST, Resource(), False),
    (SALES, Action.USER_LIST, Resource(), False),
    (ADMIN, Action.USER_LIST, Resource(), True),
    (AGENT, Action.CAMPAIGN_VIEW, Resource(), False),
    (SUPERVISOR, Action.CAMPAIGN_VIEW, Resource(), True),
    (QA, Action.CAMPAIGN_VIEW, Resource(), False),
    (SALES, Action.CAMPAIGN_VIEW, Resource(), True),
    (ADMIN, Action.CAMPAIGN_VIEW, Resource(), False),
    (AGENT, Action.CAMPAIGN_MANAGE, Resource(), False),
    (SUPERVISOR, Action.CAMPAIGN_MANAGE, Resource(), True),
    (QA, Action.CAMPAIGN_MANAGE, Resource(), False),
    (SALES, Action.CAMPAIGN_MANAGE, Resource(), False),
    (ADMIN, Action.CAMPAIGN_MANAGE, Resource(), False),
    (AGENT, Action.DNC_VIEW, Resource(), False),
    (SUPERVISOR, Action.DNC_VIEW, Resource(), True),
    (QA, Action.DNC_VIEW, Resource(), False),
    (SALES, Action.DNC_VIEW, Resource(), True),
    (ADMIN, Action.DNC_VIEW, Resource(), False),
    (AGENT, Action.DNC_MANAGE, Resource(), False),
    (SUPERVISOR, Action.DNC_MANAGE, Resource(), True),
    (QA, Action.DNC_MANAGE, Resource(), False),
    (SALES, Action.DNC_MANAGE, Resource(), True),
    (ADMIN, Action.DNC_MANAGE, Resource(), False),
    (AGENT, Action.PROMOTION_MANAGE, Resource(), False),
    (SUPERVISOR, Action.PROMOTION_MANAGE, Resource(), True),
    (QA, Action.PROMOTION_MANAGE, Resource(), False),
    (SALES, Action.PROMOTION_MANAGE, Resource(), True),
    (ADMIN, Action.PROMOTION_MANAGE, Resource(), False),
    (AGENT, Action.PHONE_MANAGE, Resource(), False),
    (SUPERVISOR, Action.PHONE_MANAGE, Resource(), False),
    (QA, Action.PHONE_MANAGE, Resource(), False),
    (SALES, Action.PHONE_MANAGE, Resource(), False),
    (ADMIN, Action.PHONE_MANAGE, Resource(), True),
    (AGENT, Action.AUDIT_VIEW, Resource(), False),
    (SUPERVISOR, Action.AUDIT_VIEW, Resource(), True),
    (QA, Action.AUDIT_VIEW, Resource(), False),
    (SALES, Action.AUDIT_VIEW, Resource(), False),
    (ADMIN, Action.AUDIT_VIEW, Resource(), True),
    (AGENT, Action.SMS_SEND, OWN, True),
    (AGENT, Action.SMS_SEND, OTHERS, False),
    (SUPERVISOR, Action.SMS_SEND, OTHERS, True),
    (QA, Action.SMS_SEND, OTHERS, False),
    (SALES, Action.SMS_SEND, OTHERS, True),
    (ADMIN, Action.SMS_SEND, OTHERS, False),
    (AGENT, Action.SMS_WAVE, Resource(), False),
    (SUPERVISOR, Action.SMS_WAVE, Resource(), False),
    (QA, Action.SMS_WAVE, Resource(), False),
    (SALES, Action.SMS_WAVE, Resource(), True),
    (ADMIN, Action.SMS_WAVE, Resource(), False),
    (AGENT, Action.RECORDING_MAINTAIN, Resource(), False),
    (SUPERVISOR, Action.RECORDING_MAINTAIN, Resource(), True),
    (QA, Action.RECORDING_MAINTAIN, Resource(), False),
    (SALES, Action.RECORDING_MAINTAIN, Resource(), False),
    (ADMIN, Action.RECORDING_MAINTAIN, Resource(), True),
    (SALES, Action.KPI_TARGET_SET, Resource(), True),
    (SUPERVISOR, Action.KPI_TARGET_SET, Resource(), False),
    (AGENT, Action.KPI_TARGET_SET, Resource(), False),
    (QA, Action.KPI_TARGET_SET, Resource(), False),
    (ADMIN, Action.KPI_TARGET_SET, Resource(), False),
]


@pytest.mark.parametrize(("user", "action", "resource", "allowed"), EXPECTED)
def test_matrix(user: User, action: Action, resource: Resource, allowed: bool) -> None:
    decision = can(user, action, resource)
    assert decision.allowed is allowed
    assert bool(decision) is allowed


def test_every_role_and_action_is_covered_by_the_table() -> None:
    pairs = {(u.role, a) for u, a, _r, _ok in EXPECTED}
    assert pairs == {(r, a) for r in Role for a in Action}
    assert set(MATRIX) == set(Action)


@pytest.mark.parametrize(
    ("user", "action", "resource", "reason"),
    [
        (AGENT, Action.RECORDING_PLAY, OWN, Reason.OWN_RESOURCE),
        (SUPERVISOR, Action.RECORDING_PLAY, OTHERS, Reason.GRANTED),
        (AGENT, Action.RECORDING_PLAY, OTHERS, Reason.NOT_OWN_RESOURCE),
        (AGENT, Action.RECORDING_PLAY, Resource(), Reason.NOT_OWN_RESOURCE),  # a call without an agent is nobody's own
        (User("x", Role.AGENT), Action.RECORDING_PLAY, Resource(agent=None), Reason.NO_AGENT_IDENTITY),
        (ADMIN, Action.RECORDING_PLAY, OTHERS, Reason.ROLE_NOT_ALLOWED),
        (SUPERVISOR, Action.RECORDING_PLAY, Resource(agent="agent2", deleted=True), Reason.RECORDING_DELETED),
        (AGENT, Action.RECORDING_PLAY, Resource(agent="agent1", deleted=True), Reason.RECORDING_DELETED),
        (ADMIN, Action.RECORDING_DELETE, Resource(deleted=True), Reason.RECORDING_DELETED),
    ],
)
def test_reasons(user: User, action: Action, resource: Resource, reason: Reason) -> None:
    assert can(user, action, resource) == AccessDecision(reason in (Reason.GRANTED, Reason.OWN_RESOURCE), reason)


def test_scoring_a_deleted_recording_is_still_allowed() -> None:
    """A score given before retention deleted the file stays valid; QA does not need the file to exist."""
    assert can(QA, Action.QA_SCORE, Resource(agent="agent2", deleted=True)).allowed


def test_no_resource_means_not_tied_to_an_agent() -> None:
    assert can(SUPERVISOR, Action.LISTEN_IN_START).allowed
    assert not can(AGENT, Action.QA_REPORT_VIEW).allowed
