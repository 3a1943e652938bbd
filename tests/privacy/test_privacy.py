"""PIPL rights: a person's export (everything, one document) and erasure (anonymized, recordings after
their evidence period, recorded without the number), and retention applied as the clock moves on."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from dialer.app import App
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Direction, Outcome
from dialer.domain.doss.mapping import Disposition, DispositionForm
from dialer.domain.privacy.erasure import ERASED
from dialer.domain.privacy.suppression import SuppressionError, SuppressionSource
from dialer.domain.sms.driver import Inbound
from dialer.domain.sms.errors import MessageRefused
from dialer.settings import PrivacySettings, Settings

from .conftest import NUMBER, OTHER, call, make_settings, seed_leads


async def test_export_holds_every_row_about_the_person_and_nobody_else(
    app: App, clock: VirtualClock, tmp_path: Path
) -> None:
    mine, other = await seed_leads(app, tmp_path)
    await call(app, "c-mine", NUMBER, clock.now(), lead_id=mine)
    await call(app, "c-other", OTHER, clock.now(), lead_id=other)
    await app.sms.on_inbound(Inbound(NUMBER[1:], "10690000", "请问周末营业吗"))
    await app.sms.queue(NUMBER, text="周末营业，欢迎到店")
    await app.privacy.suppress(NUMBER, "客户投诉", SuppressionSource.CONSOLE, "li")
    data = await app.privacy.export(" 138-0013-8000 ")
    json.dumps(data, ensure_ascii=False)  # one JSON document
    tables = data["tables"]
    assert (data["number"], data["lead_id"]) == (NUMBER, mine)
    assert [r["name"] for r in tables["leads"]] == ["张三"]
    assert [r["call_id"] for r in tables["attempts"]] == ["c-mine"]
    assert [r["call_id"] for r in tables["recordings"]] == ["c-mine"]
    assert [r["text"] for r in tables["sms_inbound"]] == ["请问周末营业吗"]
    assert [r["to_e164"] for r in tables["sms_messages"]] == [NUMBER]
    assert [(r["e164"], r["reason"]) for r in tables["suppressions"]] == [(NUMBER, "客户投诉")]
    assert tables["lead_events"] and all(r["lead_id"] == mine for r in tables["lead_events"])
    assert OTHER not in json.dumps(data)


async def test_erase_anonymizes_deletes_old_recordings_schedules_young_ones_and_keeps_the_opt_out(
    app: App, clock: VirtualClock, tmp_path: Path, settings: Settings
) -> None:
    mine, other = await seed_leads(app, tmp_path)
    old = await call(app, "c-old", NUMBER, clock.now() - timedelta(days=60), lead_id=mine)
    young = await call(
        app, "c-young", NUMBER, clock.now() - timedelta(days=2), lead_id=mine, direction=Direction.INBOUND
    )
    kept = await call(app, "c-other", OTHER, clock.now() - timedelta(days=60), lead_id=other)
    await app.sms.on_inbound(Inbound(NUMBER[1:], "10690000", "TD"))  # opted out: on the list
    await app.sms.queue(OTHER, text="您好")
    erased = await app.privacy.erase(NUMBER, "li")
    c = erased.counts
    assert (c.leads, c.attempts, c.sms_inbound, c.recordings_deleted, c.recordings_scheduled) == (1, 2, 1, 1, 1)

    lead = await app.leads.store.get(mine)
    assert (lead.name, lead.phones, lead.note) == (ERASED, (), None)
    assert await app.leads.store.find_by_phone(NUMBER) is None
    assert {a.call_id: a.number for a in await app.attempts.recent(10)} == {
        "c-old": None, "c-young": None, "c-other": OTHER,
    }  # fmt: skip
    assert [r.text for r in await app.sms.store.inbound()] == [ERASED]
    assert (await app.recordings.get(old)).deleted and not (await app.recordings.get(young)).deleted  # type: ignore[union-attr]
    assert not (await app.recordings.get(kept)).deleted  # type: ignore[union-attr]
    assert not list(app.recordings.root.rglob("c-old.wav"))
    # The person said "TD": they stay unreachable after their data is gone.
    assert (await app.privacy.active(NUMBER)) is not None
    # The erasure is on record, without the number: only its digest answers "was I erased?".
    assert await app.privacy.erased_before(NUMBER) == [erased.erasure_id]
    assert await app.privacy.erased_before(OTHER) == []
    async with app.db.read() as r:
        rows = [dict(zip(row.keys(), row, strict=True)) for row in await r.fetchall("SELECT * FROM erasures")]
    assert rows and NUMBER[3:] not in json.dumps(rows)
    # Nothing about the person is left beyond the suppression entry (which keeps the opt-out).
    left = (await app.privacy.export(NUMBER))["tables"]
    assert json.dumps({k: v for k, v in left.items() if k != "suppressions"}, ensure_ascii=False).count(NUMBER) == 0
    assert "张三" not in json.dumps(left, ensure_ascii=False)

    # The young recording goes once its evidence period is over, by the retention run.
    clock.advance(
        (timedelta(days=settings.privacy.erase_recordings_after_days - 2) - timedelta(minutes=1)).total_seconds()
    )
    assert (await app.privacy.apply_retention()).recordings == 0
    clock.advance(120)
    assert (await app.privacy.apply_retention()).recordings == 1
    assert (await app.recordings.get(young)).deleted  # type: ignore[union-attr]
    assert (await app.privacy.apply_retention()).recordings == 0


async def test_bad_numbers_are_refused_by_name(app: App) -> None:
    for raw in ("", "12345", "+86 138 0013 800x", "１３８" * 20):
        with pytest.raises(SuppressionError, match="not a phone number"):
            await app.privacy.export(raw)
        with pytest.raises(SuppressionError, match="not a phone number"):
            await app.privacy.erase(raw, "li")


async def test_retention_anonymizes_sms_attempts_and_leads_each_after_its_own_period(
    tmp_path: Path, clock: VirtualClock, store_target: str | Path
) -> None:
    from dialer.app import open_store

    privacy = PrivacySettings(leads_days=30, sms_days=10, attempts_days=20)
    async with open_store(make_settings(tmp_path, store_target, privacy), clock) as app:
        mine, _ = await seed_leads(app, tmp_path)
        await call(app, "c-1", NUMBER, clock.now(), lead_id=mine)
        await app.sms.on_inbound(Inbound(NUMBER[1:], "10690000", "请问周末营业吗"))
        assert await app.privacy.apply_retention() == type(await app.privacy.apply_retention())(0, 0, 0, 0)
        clock.advance(11 * 86400)
        report = await app.privacy.apply_retention()
        assert (report.sms, report.attempts, report.leads) == (1, 0, 0)
        assert [r.text for r in await app.sms.store.inbound()] == [ERASED]
        clock.advance(10 * 86400)
        assert (await app.privacy.apply_retention()).attempts == 1
        assert [a.number for a in await app.attempts.recent(5)] == [None]
        assert (await app.leads.store.get(mine)).name == "张三"
        clock.advance(10 * 86400)
        assert (await app.privacy.apply_retention()).leads == 2
        assert (await app.leads.store.get(mine)).name == ERASED
        assert (await app.privacy.apply_retention()).leads == 0  # done once


async def test_do_not_call_disposition_suppresses_every_number_and_names_the_call_direction(
    app: App, clock: VirtualClock, tmp_path: Path
) -> None:
    mine, other = await seed_leads(app, tmp_path)
    inbound = await app.attempts.create(call_id="in-1", direction=Direction.INBOUND, number=NUMBER,
                                        created_at=clock.now(), lead_id=mine)  # fmt: skip
    await app.attempts.finish("in-1", outcome=Outcome.ANSWERED, ended_at=clock.now())
    form = DispositionForm(Disposition.DO_NOT_CALL, note="客户来电说别再打了")
    recorded = await app.doss.record_disposition(mine, inbound.id, Outcome.ANSWERED, form, "agent1")
    entry = await app.privacy.active(NUMBER)
    assert entry is not None and (entry.source, entry.actor, entry.lead_id) == (
        SuppressionSource.INBOUND,
        "agent1",
        mine,
    )
    assert entry.reason == "客户要求勿扰: 客户来电说别再打了"
    assert recorded.lead.opt_out_at is not None and recorded.lead.due_at is None
    assert recorded.outbox_id is not None  # DOSS hears it
    with pytest.raises(MessageRefused, match="suppression list"):
        await app.sms.queue(NUMBER, text="您好")
    outbound = await app.attempts.create(call_id="out-1", direction=Direction.OUTBOUND, number=OTHER,
                                         created_at=clock.now(), lead_id=other)  # fmt: skip
    await app.attempts.finish("out-1", outcome=Outcome.ANSWERED, ended_at=clock.now())
    await app.doss.record_disposition(
        other, outbound.id, Outcome.ANSWERED, DispositionForm(Disposition.DO_NOT_CALL), "agent2"
    )
    entry = await app.privacy.active(OTHER)
    assert entry is not None and (entry.source, entry.reason) == (SuppressionSource.CALL, "客户要求勿扰")


@pytest.mark.parametrize(
    ("required", "promo_refused", "text_refused"),
    [((), False, False), (("promotional_sms",), True, False), (("sms",), True, True)],
)
async def test_sms_consent_is_enforced_where_the_config_requires_it(
    tmp_path: Path,
    clock: VirtualClock,
    store_target: str | Path,
    required: tuple[str, ...],
    promo_refused: bool,
    text_refused: bool,
) -> None:
    from dialer.app import open_store

    async with open_store(
        make_settings(tmp_path, store_target, PrivacySettings(consent_required_for=required)), clock
    ) as app:
        await seed_leads(app, tmp_path)  # consent not stated
        values = {"customer": "张三", "model": "轿车A"}
        for refused, kwargs in ((promo_refused, {"template": "repurchase", "values": values}),
                                (text_refused, {"text": "您好"})):  # fmt: skip
            if refused:
                with pytest.raises(MessageRefused, match="consent"):
                    await app.sms.queue(NUMBER, **kwargs)  # type: ignore[arg-type]
            else:
                await app.sms.queue(NUMBER, **kwargs)  # type: ignore[arg-type]
        await app.sms.queue("13700137000", text="顾问通知")  # no lead's number: not a customer's consent


async def test_consented_leads_get_promotional_sms_when_it_is_required(
    tmp_path: Path, clock: VirtualClock, store_target: str | Path
) -> None:
    from dialer.app import open_store

    settings = make_settings(tmp_path, store_target, PrivacySettings(consent_required_for=("promotional_sms",)))
    async with open_store(settings, clock) as app:
        await seed_leads(app, tmp_path, consent="是")
        await app.sms.queue(NUMBER, template="repurchase", values={"customer": "张三", "model": "轿车A"})
