"""``dialer qa``: the scoring form, scoring a recording, and the monthly per-agent report (docs/qa.md)."""

from __future__ import annotations

import argparse

from dialer.app import open_store
from dialer.cli import CliError
from dialer.cli.output import print_json, print_table
from dialer.domain.kpi.metrics import Month
from dialer.domain.qa.errors import QaError
from dialer.domain.qa.form import QaForm, load_form
from dialer.domain.qa.report import QaReport
from dialer.domain.qa.scoring import parse_item_args
from dialer.i18n import translate
from dialer.settings import ConfigError, Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dialer qa`` and its actions to the CLI."""
    p = sub.add_parser("qa", help="质检：评分表、录音评分、月度报告 (quality review)")
    cmds = p.add_subparsers(dest="qa_command", metavar="ACTION", required=True)

    f = cmds.add_parser("form", help="show the scoring form's items, ids and weights")
    f.add_argument("--json", action="store_true")
    f.set_defaults(handler=run_form)

    s = cmds.add_parser("score", help="score one recording: --item ID=VALUE for every item that applies")
    s.add_argument("recording_id", type=int, metavar="RECORDING_ID")
    s.add_argument("--item", action="append", default=[], metavar="ID=VALUE", help="e.g. greeting=2 (repeat per item)")
    s.add_argument("--scorer", required=True, help="who scored (the supervisor's or reviewer's login)")
    s.add_argument("--comment", default="", help="remarks for the agent")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=run_score)

    r = cmds.add_parser("report", help="per-agent QA results for a month")
    r.add_argument("--month", required=True, help="YYYY-MM, dealer local time")
    r.add_argument("--agent", help="only this agent")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=run_report)


def _form(cfg: Settings) -> QaForm:
    try:
        return load_form(cfg.path(cfg.recording.qa_form))
    except ConfigError as exc:
        raise CliError(f"config error: {exc}") from None


def run_form(cfg: Settings, args: argparse.Namespace) -> int:
    """Print the form so reviewers know the item ids ``--item`` takes."""
    form = _form(cfg)
    lang = cfg.ui.language
    if args.json:
        print_json({"version": form.version, "total": form.total, "items": [
            {"id": i.id, "label": i.label, "label_en": i.label_en, "weight": i.weight, "max": i.max,
             "applies_to": sorted(d.value for d in i.applies_to), "guide": i.guide} for i in form.items]})  # fmt: skip
        return 0
    print(translate("qa.form.title", lang, version=form.version, total=f"{form.total:g}"))
    keys = ("qa.col.id", "qa.col.item", "qa.col.weight", "qa.col.scale", "qa.col.applies")
    rows = [
        (i.id, i.label_for(lang), f"{i.weight:g}", f"0-{i.max}",
         "/".join(translate(f"rec.direction.{d.value}", lang) for d in sorted(i.applies_to)))
        for i in form.items
    ]  # fmt: skip
    print_table([translate(k, lang) for k in keys], rows)
    return 0


async def run_score(cfg: Settings, args: argparse.Namespace) -> int:
    """Score one recording; form violations are one-line errors naming the item."""
    async with open_store(cfg, args.clock) as app:
        service = app.qa
        try:
            stored = await service.score(
                args.recording_id, scorer=args.scorer, values=parse_item_args(args.item), comment=args.comment
            )
        except QaError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print_json({"score_id": stored.score_id, "recording_id": stored.recording_id, "agent": stored.agent,
                    "score": stored.score, "form_version": stored.form_version,
                    "items": {i.item_id: i.value for i in stored.items}})  # fmt: skip
    else:
        print(translate("qa.scored", cfg.ui.language, recording_id=stored.recording_id, score=f"{stored.score:.1f}",
                        score_id=stored.score_id, version=stored.form_version))  # fmt: skip
    return 0


async def run_report(cfg: Settings, args: argparse.Namespace) -> int:
    """The month's per-agent report as tables or JSON."""
    try:
        month = Month.parse(args.month)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    async with open_store(cfg, args.clock) as app:
        report = await app.qa.report(month, args.agent)
        form = app.qa.form
    if args.json:
        print_json(report.to_json())
    else:
        print_report(report, form, cfg.ui.language)
    return 0


def print_report(report: QaReport, form: QaForm, lang: str) -> None:
    """Summary per agent, then each agent's items in form order, so training needs stand out."""
    who = (
        translate("qa.report.everyone", lang)
        if report.agent is None
        else translate("qa.report.agent", lang, agent=report.agent)
    )
    print(translate("qa.report.title", lang, month=report.month, who=who))
    if not report.agents:
        print(translate("qa.report.none", lang))
        return
    keys = ("qa.col.agent", "qa.col.calls", "qa.col.average", "qa.col.lowest", "qa.col.highest")
    print_table(
        [translate(k, lang) for k in keys],
        [(a.agent or translate("qa.no_agent", lang), a.calls, f"{a.average:.1f}", f"{a.lowest:.1f}", f"{a.highest:.1f}")
         for a in report.agents],
    )  # fmt: skip
    order = {item.id: n for n, item in enumerate(form.items)}
    for a in report.agents:
        print()
        print(translate("qa.report.items", lang, agent=a.agent or translate("qa.no_agent", lang)))
        rows = []
        for result in sorted(a.items, key=lambda r: order.get(r.item_id, len(order))):
            item = form.item(result.item_id)
            rows.append(
                (item.label_for(lang) if item else result.item_id, result.calls, f"{result.achieved * 100:.0f}%")
            )
        print_table([translate(k, lang) for k in ("qa.col.item", "qa.col.calls", "qa.col.achieved")], rows)
    print()
    print(translate("qa.report.versions", lang, versions=", ".join(report.form_versions)))
