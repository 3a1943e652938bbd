"""The dealer's promotions and events (#13 item 4): the manager keeps the list, the desk shows today's."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.promotions.model import NewPromotion, PromotionError, PromotionKind, check
from tests.web.conftest import Fixtures, Login

TODAY = date(2026, 11, 29)


def promo(starts: date, ends: date, title: str = "国庆试驾周") -> NewPromotion:
    return NewPromotion(PromotionKind.EVENT, title, "到店试驾送保养", starts, ends)


@pytest.mark.parametrize(
    ("new", "field"),
    [
        (promo(TODAY, TODAY, title="  "), "title"),
        (promo(TODAY, TODAY, title="长" * 81), "title"),
        (promo(TODAY, TODAY - timedelta(days=1)), "ends_on"),
        (promo(TODAY - timedelta(days=9), TODAY - timedelta(days=1)), "ends_on"),  # already over
        (promo(TODAY, date(2027, 12, 31)), "ends_on"),  # a year typo, not a promotion
        (NewPromotion(PromotionKind.OFFER, "置换补贴", "x" * 1001, TODAY, TODAY), "detail"),
    ],
)
def test_a_promotion_that_cannot_be_shown_is_refused_naming_the_field(new: NewPromotion, field: str) -> None:
    with pytest.raises(PromotionError) as refused:
        check(new, TODAY)
    assert refused.value.field == field


async def test_the_manager_adds_one_and_the_desk_shows_only_what_runs_today(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures, clock: VirtualClock
) -> None:
    manager, agent = logins[Role.SALES_MANAGER], logins[Role.AGENT]
    today = dialer_app.promotions.today()
    form = {"csrf_token": manager.csrf, "kind": "event", "title": "周末试驾日", "detail": "到店试驾送机油",
            "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=2)).isoformat()}  # fmt: skip
    added = await client.post("/promotions", data=form, headers=manager.headers(csrf=False), allow_redirects=False)
    assert added.status == 303
    later = {**form, "title": "年末置换补贴", "kind": "offer", "starts_on": (today + timedelta(days=5)).isoformat(),
             "ends_on": (today + timedelta(days=9)).isoformat()}  # fmt: skip
    assert (await client.post("/promotions", data=later, headers=manager.headers(csrf=False),
                              allow_redirects=False)).status == 303  # fmt: skip
    desk = await (await client.get("/desk", headers=agent.headers())).text()
    card = desk.split('id="promotions-today"')[1].split("</aside>")[0]
    assert "周末试驾日" in card and "市场活动" in card and "年末置换补贴" not in card
    lead = await (await client.get(f"/leads/{data.own_lead}", headers=agent.headers())).text()
    assert "周末试驾日" in lead.split('id="promotions-today"')[1]
    # Five days on (the console session would have expired): the event is over and the offer runs.
    clock.advance(5 * 86400)
    assert [p.title for p in await dialer_app.promotions.running()] == ["年末置换补贴"]


async def test_a_refused_form_keeps_what_was_typed_and_an_ended_one_leaves_the_desk(
    client: TestClient, dialer_app: App, logins: dict[Role, Login]
) -> None:
    supervisor, agent = logins[Role.SUPERVISOR], logins[Role.AGENT]
    today = dialer_app.promotions.today()
    bad = {"csrf_token": supervisor.csrf, "kind": "event", "title": "到店有礼", "detail": "",
           "starts_on": today.isoformat(), "ends_on": "2026/12/31"}  # fmt: skip
    refused = await client.post("/promotions", data=bad, headers=supervisor.headers(csrf=False))
    page = await refused.text()
    assert refused.status == 400 and 'id="error-ends_on"' in page and 'value="到店有礼"' in page
    api = await client.post("/api/promotions", json={**bad, "ends_on": today.isoformat()}, headers=supervisor.headers())
    assert api.status == 201
    promotion_id = (await api.json())["id"]
    assert "到店有礼" in await (await client.get("/desk", headers=agent.headers())).text()
    ended = await client.post(f"/api/promotions/{promotion_id}/end", headers=supervisor.headers())
    assert ended.status == 200 and (await ended.json())["ended_at"]
    assert 'id="promotions-today"' not in await (await client.get("/desk", headers=agent.headers())).text()
    listed = (await (await client.get("/api/promotions", headers=supervisor.headers())).json())["promotions"]
    assert [p["title"] for p in listed] == ["到店有礼"]  # ended, still listed for the record
    unknown = await client.post("/api/promotions/999/end", headers=supervisor.headers())
    assert unknown.status == 404 and (await unknown.json())["error"] == "promotion_not_found"  # found by tests/fuzz
    # Agents read them on the desk; they do not edit the list.
    assert (await client.get("/promotions", headers=agent.headers())).status == 403
    assert (await client.post("/api/promotions", json=bad, headers=agent.headers())).status == 403
