"""The suppression list's inputs fuzzed: any number, reason, search or query string gets a clear
refusal naming the field or is taken as it is meant, never a crash and never a wildcard search."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.clock import VirtualClock
from dialer.domain.privacy.suppression import REASON_MAX, SuppressionError, SuppressionSource, check_reason
from dialer.phone import InvalidPhone, normalize
from dialer.store.database import Database
from dialer.store.suppressions import SuppressionStore
from dialer.web.errors import BadRequest
from dialer.web.views_dnc import LIMIT_MAX, parse_change, parse_search

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=260)
anything = st.none() | st.booleans() | st.integers() | text | st.lists(text, max_size=2)


@given(text)
def test_a_reason_is_kept_trimmed_printable_and_bounded_or_refused_by_name(raw: str) -> None:
    try:
        reason = check_reason(raw)
    except SuppressionError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert refused.startswith("reason")
        return
    assert reason == raw.strip() and 0 < len(reason) <= REASON_MAX
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cn") for c in reason)


@given(st.dictionaries(st.sampled_from(["number", "reason", "other"]), anything, max_size=3))
def test_a_change_request_names_each_bad_field(data: dict[str, object]) -> None:
    try:
        number, reason = parse_change(data)
    except BadRequest as exc:
        fields = exc.fields
    else:
        fields = {}
    if fields:
        assert set(fields) <= {"number", "reason"}
        return
    assert number == data["number"] and reason == data["reason"]


@given(st.dictionaries(st.sampled_from(["q", "all", "limit"]), text, max_size=3))
def test_a_search_query_names_each_bad_field(query: dict[str, str]) -> None:
    try:
        q, _everything, limit = parse_search(query)
    except BadRequest as exc:
        fields = exc.fields
    else:
        fields = {}
    if fields:
        assert set(fields) <= {"q", "limit"}
        return
    assert q == query.get("q", "") and 1 <= limit <= LIMIT_MAX


@given(text)
def test_a_number_normalizes_or_is_refused(raw: str) -> None:
    try:
        phone = normalize(raw)
    except InvalidPhone:
        return
    assert phone.e164.startswith("+") and phone.e164[1:].isdigit()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.sampled_from("%_\\'\"[]*?13800+ 投诉"), max_size=12))
async def test_search_text_is_literal_never_a_wildcard(tmp_path: Path, search: str) -> None:
    clock = VirtualClock()
    async with await Database.open(tmp_path / f"s{abs(hash(search))}.sqlite3", clock=clock) as db:
        store = SuppressionStore(db)
        await store.add("+8613800138000", "投诉 100%", SuppressionSource.CONSOLE, clock.now(), "li")
        await store.add("+8613900139000", "a_b", SuppressionSource.CONSOLE, clock.now(), "li")
        found = await store.search(search, include_lifted=True, limit=10)
    expected = [
        e for e, r in (("+8613800138000", "投诉 100%"), ("+8613900139000", "a_b")) if search in e or search in r
    ]
    assert sorted(x.e164 for x in found) == sorted(expected)
