"""The recordings' housekeeping page (#15 item 4): reconcile's findings, retention's outlook and last run,
and reconcile run from the console, audited."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from dialer.clock import VirtualClock
from dialer.domain.access.policy import Role
from dialer.domain.audit.model import AuditAction, AuditQuery
from dialer.web.keys import AUTH, DIALER, ROUTES
from tests.web.conftest import PASSWORD, USERS, Fixtures, Login

DAY = 86_400.0


async def _login(client: TestClient, role: Role) -> Login:
    """A fresh session (after the clock moved past the fixtures' sessions)."""
    session = await client.app[AUTH].login(USERS[role][0], PASSWORD, "127.0.0.1")
    return Login(role, session.token, session.csrf)


async def test_the_routes_admit_the_administrator_and_the_supervisor(
    client: TestClient, logins: dict[Role, Login]
) -> None:
    declared = {(spec.method, spec.path): spec for spec in client.app[ROUTES].values()}
    for key in (("GET", "/recordings/status"), ("POST", "/recordings/status/reconcile"),
                ("GET", "/api/recordings/status"), ("POST", "/api/recordings/reconcile")):  # fmt: skip
        assert declared[key].allowed_roles() == {Role.ADMIN, Role.SUPERVISOR}, key
    for role in (Role.AGENT, Role.QA, Role.SALES_MANAGER):
        assert (await client.get("/api/recordings/status", headers=logins[role].headers())).status == 403
    spec = (await (await client.get("/api/openapi.json", headers=logins[Role.ADMIN].headers())).json())["paths"]
    assert {"/api/recordings/status", "/api/recordings/reconcile"} <= set(spec)
    page = await (await client.get("/recordings/status", headers=logins[Role.ADMIN].headers())).text()
    assert 'id="nav-recordings-status"' in page and 'id="reconcile-clean"' in page


async def test_findings_are_shown_read_only_then_a_run_with_fix_settles_them_and_is_audited(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    app = client.app[DIALER]
    root = app.recordings.root
    (root / "2026/11/29/stray.wav").write_bytes(b"RIFF")
    (root / "2026/11/29/call-other.wav").unlink()
    admin = logins[Role.ADMIN]
    status = await (await client.get("/api/recordings/status", headers=admin.headers())).json()
    found = status["reconcile"]
    assert (found["clean"], found["orphan_files"], found["missing"]) == (
        False, ["2026/11/29/stray.wav"], ["2026/11/29/call-other.wav"])  # fmt: skip
    # Looking changed nothing: the row is still live, no run is in the audit log.
    assert not (await app.recordings.get(data.other_recording)).deleted  # type: ignore[union-attr]
    assert status["reconcile_runs"] == []
    page = await (await client.get("/recordings/status", headers=admin.headers(csrf=False))).text()
    assert "stray.wav" in page and "有记录无文件" in page
    ran = await client.post("/api/recordings/reconcile", json={"fix": True}, headers=admin.headers())
    assert ran.status == 200 and (await ran.json())["fixed"] is True
    assert (await app.recordings.get(data.other_recording)).deleted  # type: ignore[union-attr]
    (entry,), _ = await app.audit.entries(AuditQuery(action=AuditAction.RECORDING_RECONCILE))
    assert (entry.actor, entry.target) == ("web:root", "recordings")
    assert '"fix":true' in entry.detail and '"missing":1' in entry.detail and '"orphan_files":1' in entry.detail
    # The form: a plain run (no fix), back to the page, which lists both runs.
    boss = logins[Role.SUPERVISOR]
    done = await client.post("/recordings/status/reconcile", data={"csrf_token": boss.csrf},
                             headers=boss.headers(csrf=False), allow_redirects=False)  # fmt: skip
    assert done.status == 303 and done.headers["Location"] == "/recordings/status?ran=1"
    page = await (await client.get(done.headers["Location"], headers=boss.headers(csrf=False))).text()
    assert 'id="reconcile-ran"' in page and "web:li" in page and "web:root" in page
    runs = (await (await client.get("/api/recordings/status", headers=boss.headers())).json())["reconcile_runs"]
    assert [(r["actor"], r["detail"]["fix"]) for r in runs] == [("web:li", False), ("web:root", True)]


async def test_retention_shows_what_goes_next_and_when_and_its_last_deletion(
    client: TestClient, data: Fixtures, clock: VirtualClock
) -> None:
    app = client.app[DIALER]
    days = app.settings.recording.retention_days
    clock.advance((days - 3) * DAY)  # both recordings are purged in three days
    admin = await _login(client, Role.ADMIN)
    retention = (await (await client.get("/api/recordings/status", headers=admin.headers())).json())["retention"]
    assert (retention["retention_days"], retention["due_now"], retention["last_purge"]) == (days, 0, None)
    assert [r["recording_id"] for r in retention["upcoming"]] == [data.own_recording, data.other_recording]
    assert retention["upcoming"][0]["purge_from"] == "2027-05-28T01:00:00+00:00"  # START + 180 days
    page = await (await client.get("/recordings/status", headers=admin.headers(csrf=False))).text()
    assert "2027-05-28 09:00" in page and "尚未按保留期限删除过录音" in page
    clock.advance(4 * DAY)
    admin = await _login(client, Role.ADMIN)
    due = (await (await client.get("/api/recordings/status", headers=admin.headers())).json())["retention"]
    assert due["due_now"] == 2
    assert len(await app.recordings.purge_expired()) == 2  # what `dialer recordings purge` runs
    after = (await (await client.get("/api/recordings/status", headers=admin.headers())).json())["retention"]
    assert after["upcoming"] == [] and after["last_purge"]["at"] == clock.now().isoformat()


async def test_a_bad_body_is_named_and_runs_nothing(client: TestClient, logins: dict[Role, Login]) -> None:
    admin = logins[Role.ADMIN].headers()
    for body in ({"fix": "yes"}, {"fix": 1}, [True]):
        resp = await client.post("/api/recordings/reconcile", json=body, headers=admin)
        assert resp.status == 400, body
    broken = await client.post(
        "/api/recordings/reconcile", data=b"{", headers={**admin, "Content-Type": "application/json"}
    )
    assert broken.status == 400
    assert (await client.app[DIALER].audit.entries(AuditQuery(action=AuditAction.RECORDING_RECONCILE)))[0] == []
    empty = await client.post("/api/recordings/reconcile", headers=admin)  # no body: a run without fix
    assert empty.status == 200 and (await empty.json())["fixed"] is False
