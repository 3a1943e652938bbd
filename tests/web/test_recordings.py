"""Recording playback through the policy: agents only their own, Range requests, and no way out of the folder."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from dialer.app import App
from dialer.domain.access.policy import Role
from dialer.domain.calls.outcome import CallState, Direction, Outcome
from dialer.recording.compress import SoxFlacCompressor
from dialer.recording.registry import RecordingRegistry
from tests.recording.conftest import write_wav
from tests.web.conftest import AUDIO, Fixtures, Login


async def test_whole_file_and_ranges(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    headers = logins[Role.SUPERVISOR].headers()
    url = f"/recordings/{data.other_recording}/audio"
    whole = await client.get(url, headers=headers)
    assert whole.status == 200 and await whole.read() == AUDIO
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.content_type == "audio/wav"
    part = await client.get(url, headers={**headers, "Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    assert await part.read() == AUDIO[100:200]
    tail = await client.get(url, headers={**headers, "Range": "bytes=-10"})
    assert await tail.read() == AUDIO[-10:]
    beyond = await client.get(url, headers={**headers, "Range": f"bytes={len(AUDIO)}-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(AUDIO)}"
    stale = await client.get(url, headers={**headers, "Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status == 200 and await stale.read() == AUDIO


async def test_agents_hear_only_their_own_calls_and_cannot_take_copies(
    client: TestClient, logins: dict[Role, Login], data: Fixtures
) -> None:
    agent = logins[Role.AGENT].headers()
    assert (await client.get(f"/recordings/{data.own_recording}/audio", headers=agent)).status == 200
    others = await client.get(f"/recordings/{data.other_recording}/audio", headers=agent)
    assert others.status == 403 and (await others.text()).count("not_own_resource")
    assert (await client.get(f"/recordings/{data.own_recording}/download", headers=agent)).status == 403
    found = await client.get("/api/recordings?agent=agent2", headers=agent)  # the agent filter is ignored for agents
    assert [r["id"] for r in (await found.json())["recordings"]] == [data.own_recording]
    qa = await client.get(f"/recordings/{data.other_recording}/download", headers=logins[Role.QA].headers())
    assert qa.status == 200 and qa.headers["Content-Disposition"].startswith("attachment")


async def test_path_traversal_is_refused(
    client: TestClient, dialer_app: App, logins: dict[Role, Login], data: Fixtures
) -> None:
    headers = logins[Role.SUPERVISOR].headers()
    secret = dialer_app.recordings.root.parent / "secret.wav"
    secret.write_bytes(b"not yours")
    # The store refuses a row pointing outside the folder; a symbolic link planted inside it is refused when served.
    link = dialer_app.recordings.root / "2026/11/29/link.wav"
    link.symlink_to(secret)
    async with dialer_app.db.write() as tx:
        await tx.execute("UPDATE recordings SET path = ? WHERE id = ?", ("2026/11/29/link.wav", data.other_recording))
    resp = await client.get(f"/recordings/{data.other_recording}/audio", headers=headers)
    assert resp.status == 404 and b"not yours" not in await resp.read()
    # URLs that try to smuggle a path where an id belongs do not match any route.
    for url in (
        "/recordings/..%2F..%2Fsecret.wav/audio",
        "/recordings/../../secret.wav",
        f"/recordings/{data.own_recording}%2F..%2F/audio",
    ):
        assert (await client.get(url, headers=headers)).status == 404, url


async def test_search_page_has_players(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    resp = await client.get("/recordings?number=13800138000", headers=logins[Role.SALES_MANAGER].headers())
    text = await resp.text()
    assert f'src="/recordings/{data.own_recording}/audio"' in text
    assert "/download" not in text  # the sales manager may listen, not take copies
    bad = await client.get("/api/recordings?number=12&since=yesterday", headers=logins[Role.QA].headers())
    assert bad.status == 400 and set((await bad.json())["fields"]) == {"number", "since"}


async def test_the_console_link_plays_the_compressed_file(
    client: TestClient, logins: dict[Role, Login], dialer_app: App
) -> None:
    registry = dialer_app.recordings
    root = registry.root
    wav = write_wav(root / "2026/11/29/call-flac.wav", 1.0)
    clock = dialer_app.clock
    await dialer_app.attempts.create(call_id="call-flac", direction=Direction.OUTBOUND, number="+8613800138000",
                                     created_at=clock.now(), agent="agent1")  # fmt: skip
    await dialer_app.attempts.update_progress("call-flac", state=CallState.CONNECTED, connected_at=clock.now())
    await dialer_app.attempts.finish("call-flac", outcome=Outcome.ANSWERED, ended_at=clock.now(), recording=str(wav))
    attempt = await dialer_app.attempts.get("call-flac")
    assert attempt is not None
    flac_registry = RecordingRegistry(store=dialer_app.recording_store, attempts=dialer_app.attempts,
                                      settings=dialer_app.settings, clock=clock, compressor=SoxFlacCompressor())  # fmt: skip
    recording = await flac_registry.register_finished(attempt)
    assert recording is not None and recording.path.endswith(".flac") and not wav.exists()
    page = await client.get("/recordings", params={"number": "13800138000"}, headers=logins[Role.SUPERVISOR].headers())
    assert f'src="/recordings/{recording.id}/audio"' in await page.text()
    audio = await client.get(f"/recordings/{recording.id}/audio", headers=logins[Role.SUPERVISOR].headers())
    assert audio.status == 200 and audio.content_type == "audio/flac"
    assert await audio.read() == (root / recording.path).read_bytes()
    assert (await registry.current_files([attempt]))["call-flac"] == root / recording.path
