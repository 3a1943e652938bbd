"""Pages a person reads: the lead history in sentences, dates typed as the dealer writes them, and a
disposition form that links the call by itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.domain.leads.model import LeadState
from dialer.domain.leads.records import LeadEvent
from dialer.i18n import translate
from dialer.web.history import sentence
from tests.web.conftest import Fixtures, Login

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def said(kind: str, data: dict[str, object], language: str = "zh-CN") -> str:
    event = LeadEvent(1, 1, kind, AT, "web:li", data)
    return sentence(event, lambda key, **p: translate(key, language, **p), lambda at: f"{at:%Y-%m-%d %H:%M}")


def test_each_kind_reads_as_a_sentence_with_codes_and_times_translated() -> None:
    assert said("state", {"from": "new", "to": "following", "reason": "first follow-up"}) == (
        "状态由「未处理」改为「跟进中」；原因：首次跟进"
    )
    assert said("contact", {"channel": "phone", "outcome": "answered", "attempt_id": 55, "first": True}) == (
        "电话联系，结果：已接通；通话记录 #55；首次跟进"
    )
    assert said("callback", {"callback_at": "2026-12-04T07:30:00+00:00"}) == "约定 2026-12-04 07:30 回访"
    assert said("created", {"import_id": 3, "row": 7, "source": "hq", "owner": "agent1", "merged_rows": [9, 12]}) == (
        "由导入 #3 第 7 行录入；来源：总部下发；归属：agent1；同时合并了第 9、12 行"
    )
    english = said("transferred", {"from": "agent1", "to": "agent2", "reason": "休假"}, "en")
    assert english == "Handed from agent1 to agent2; reason: 休假"
    assert said("owner_renamed", {"from": "王丽", "to": "agent1", "reason": "alias"}) == (
        "负责人姓名 王丽 归入其坐席身份 agent1；原因：经理已将该姓名对应到此坐席"
    )
    reissued = {"import_id": 4, "row": 2, "issued_at": "2026-11-05T01:00:00+00:00",
                "from_issued_at": "2026-10-10T01:00:00+00:00", "from_source": "hq", "from_state": "defeated"}  # fmt: skip
    assert said("reissued", reissued) == (
        "总部重新下发（下发时间 2026-11-05 01:00）；导入 #4；第 2 行；上次下发：2026-10-10 01:00；原来源：总部下发；原状态：战败"
    )


def test_no_key_equals_value_text_even_for_kinds_and_facts_it_does_not_know() -> None:
    # An older row missing a fact of its kind's sentence, and a kind another package added.
    older = said("state", {"to": "invited"})
    unknown = said("some_new_kind", {"model": "X5", "gadget": True, "first": False})
    assert older == "状态变更；改为：已邀约"
    assert unknown == "some_new_kind；车型：X5；gadget：是"
    for text in (older, unknown):
        assert "=" not in text and "None" not in text


async def test_the_lead_card_shows_sentences_and_dealer_formatted_date_inputs(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    page = await (await client.get(f"/leads/{data.own_lead}", headers=logins[Role.AGENT].headers())).text()
    history = page.split('id="lead-history"')[1]
    assert "由导入 #" in history and "来源：" in history
    assert not re.search(r"\w=\w", re.sub(r"<[^>]+>", "", history))
    # Typed as 2026-12-03 15:30 whatever the browser's locale (a datetime-local shows mm/dd/yyyy in English).
    assert 'type="datetime-local"' not in page
    assert re.search(r'<input type="text" id="visit_at" name="visit_at"[^>]*placeholder="格式：2026-12-03 15:30"', page)
    assert 'name="attempt_id"' not in page  # no call number to type


async def test_a_form_without_a_call_number_is_linked_to_the_agents_last_unfiled_talk(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, clock: VirtualClock
) -> None:
    agent = logins[Role.AGENT]  # agent1, owner of own_lead
    talk = await dialer_app.attempts.create(call_id="out-1", direction=Direction.OUTBOUND, number="+8613800138000",
                                            created_at=clock.now(), lead_id=data.own_lead)  # fmt: skip
    await dialer_app.attempts.update_progress(
        "out-1", state=CallState.ANSWERED, connected_at=clock.now(), agent="agent1"
    )
    clock.advance(90)
    await dialer_app.attempts.finish("out-1", outcome=Outcome.ANSWERED, ended_at=clock.now())
    clock.advance(3600)  # long after the wrap-up window: the form still knows which call it is about
    filed = await client.post(
        f"/leads/{data.own_lead}/disposition",
        data={"csrf_token": agent.csrf, "disposition": "callback", "next_follow_up_at": "2026-12-05 10:00",
              "purpose": "other"},
        headers=agent.headers(csrf=False), allow_redirects=False,
    )  # fmt: skip
    assert filed.status == 303, await filed.text()
    assert await dialer_app.doss.filed(talk.id)
    events = await dialer_app.leads.store.events(data.own_lead)
    assert [e.data.get("attempt_id") for e in events if e.kind == "contact"] == [talk.id]
    # Filed once: the next form without a number is not linked to the same call again.
    again = await client.post(
        f"/leads/{data.own_lead}/disposition",
        data={"csrf_token": agent.csrf, "disposition": "callback", "next_follow_up_at": "2026-12-06 10:00",
              "purpose": "other"},
        headers=agent.headers(csrf=False), allow_redirects=False,
    )  # fmt: skip
    assert again.status == 303
    events = await dialer_app.leads.store.events(data.own_lead)
    assert [e.data.get("attempt_id") for e in events if e.kind == "contact"] == [talk.id, None]


async def test_a_defeat_without_a_reason_is_a_named_row_of_the_report(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, clock: VirtualClock
) -> None:
    store = dialer_app.leads.store
    await store.change_state(data.own_lead, LeadState.FOLLOWING, clock.now(), "test")
    await store.change_state(data.own_lead, LeadState.DEFEATED, clock.now(), "test")
    month = f"{clock.now():%Y-%m}"
    page = await (await client.get(f"/reports?month={month}", headers=logins[Role.SUPERVISOR].headers())).text()
    defeat = page.split('id="report-defeat"')[1].split("</table>")[0]
    assert "<td>（未填写原因）</td><td>1</td>" in defeat
