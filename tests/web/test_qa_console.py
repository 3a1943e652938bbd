"""QA in the console (#15 item 4): the week's sample per agent and scoring a call on its page."""

from __future__ import annotations

from datetime import date

import pytest
from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import Direction
from dialer.domain.qa.sampling import draw, week_of
from tests.web.conftest import Fixtures, Login

MONDAY = date(2026, 11, 23)


def test_week_of_runs_monday_to_monday() -> None:
    assert week_of(date(2026, 11, 29)) == (MONDAY, date(2026, 11, 30))  # a Sunday
    assert week_of(MONDAY) == (MONDAY, date(2026, 11, 30))


def test_the_sample_counts_what_is_scored_and_picks_the_rest_the_same_way_each_time() -> None:
    calls = [(i, "agent1") for i in range(1, 21)] + [(i, "agent2") for i in range(21, 24)] + [(99, None)]
    first = draw(calls, scored={1, 2}, per_agent=5, week=MONDAY)
    assert [(s.agent, s.calls, s.scored, len(s.to_score)) for s in first] == [("agent1", 20, 2, 3), ("agent2", 3, 0, 3)]
    assert not {1, 2, 99} & {i for s in first for i in s.to_score}  # scored or agentless: never asked for
    assert draw(list(reversed(calls)), scored={1, 2}, per_agent=5, week=MONDAY) == first  # stable
    other_week = draw(calls, scored={1, 2}, per_agent=5, week=date(2026, 11, 30))
    assert other_week[0].to_score != first[0].to_score  # a new week draws anew
    done = draw(calls, scored=set(range(1, 6)), per_agent=5, week=MONDAY)
    assert done[0].done and done[0].scored == 5
    with pytest.raises(ValueError, match="per_agent"):
        draw(calls, set(), 0, MONDAY)


async def test_a_reviewer_works_down_the_sample_and_a_scoring_that_misses_an_item_is_refused(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    qa = logins[Role.QA]
    sample = await (await client.get("/api/qa/sample", headers=qa.headers())).json()
    assert {a["agent"]: a["to_score"] for a in sample["agents"]} == {
        "agent1": [data.own_recording],
        "agent2": [data.other_recording],
    }
    page = await (await client.get("/qa", headers=qa.headers())).text()
    assert f'id="qa-pick-{data.own_recording}"' in page
    url = f"/recordings/{data.own_recording}/qa"
    form_page = await (await client.get(url, headers=qa.headers())).text()
    items = [i.id for i in dialer_app.qa.form.applicable(Direction.OUTBOUND)]
    assert all(f'id="item-{i}"' in form_page for i in items)
    assert 'id="item-three_rings"' not in form_page  # inbound only
    values = {f"item-{i}": "1" for i in items}
    missing = {k: v for k, v in values.items() if k != f"item-{items[0]}"}
    refused = await client.post(url, data={"csrf_token": qa.csrf, **missing, "comment": "开场白很好"},
                                headers=qa.headers(csrf=False))  # fmt: skip
    text = await refused.text()
    assert refused.status == 400 and f'id="error-item-{items[0]}"' in text and "开场白很好" in text
    assert await dialer_app.qa.scorings(data.own_recording) == []
    saved = await client.post(url, data={"csrf_token": qa.csrf, **values, "comment": "开场白很好"},
                              headers=qa.headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert saved.status == 303
    (scoring,) = await dialer_app.qa.scorings(data.own_recording)
    assert scoring.scorer == "web:wang" and scoring.agent == "agent1"
    after = await (await client.get("/api/qa/sample", headers=qa.headers())).json()
    assert {a["agent"]: (a["scored"], a["to_score"]) for a in after["agents"]} == {
        "agent1": (1, []),
        "agent2": (0, [data.other_recording]),
    }
    api = await client.post(f"/api/recordings/{data.other_recording}/qa",
                            json={"values": dict.fromkeys(items, 0) | {items[0]: 99}}, headers=qa.headers())  # fmt: skip
    assert api.status == 400 and f"item-{items[0]}" in (await api.json())["fields"]


async def test_agents_do_not_score_and_a_deleted_recording_cannot_be_scored(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent, supervisor = logins[Role.AGENT], logins[Role.SUPERVISOR]
    assert (await client.get("/qa", headers=agent.headers())).status == 403
    assert (await client.get(f"/recordings/{data.own_recording}/qa", headers=agent.headers())).status == 403
    await dialer_app.recordings.delete(data.other_recording, actor="test", reason="test")
    gone = await client.get(f"/recordings/{data.other_recording}/qa", headers=supervisor.headers())
    assert gone.status == 404
    assert (await client.get("/recordings/99999/qa", headers=supervisor.headers())).status == 404
