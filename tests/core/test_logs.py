"""Logs never carry a full phone number or a secret, whatever the call site passes."""

from __future__ import annotations

import io
import json
import logging

import structlog

from dialer.logs import configure, get_logger


def capture() -> io.StringIO:
    buf = io.StringIO()
    configure(level="debug", json=True, stream=buf)
    return buf


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_numbers_masked_and_secrets_blanked_in_fields_and_text() -> None:
    buf = capture()
    with structlog.contextvars.bound_contextvars(call_id="c-1", lead_id=7):
        get_logger("t").info(
            "dialing 13800138000 now",
            number="+8613800138000",
            ami_secret="hunter2",
            extra={"phone": "02188886666", "password": "p"},
            attempt=42,
        )
    (record,) = lines(buf)
    text = json.dumps(record, ensure_ascii=False)
    assert "13800138000" not in text and "02188886666" not in text and "hunter2" not in text
    assert record["number"] == "+86138****8000"
    assert record["event"] == "dialing 138****8000 now"
    assert record["ami_secret"] == "***" and record["extra"]["password"] == "***"
    assert record["call_id"] == "c-1" and record["lead_id"] == 7 and record["attempt"] == 42


def test_library_loggers_go_through_the_same_scrubbing() -> None:
    buf = capture()
    logging.getLogger("panoramisk").warning("Action: Login Secret: s3cret Username: dialer to 13800138000")
    (record,) = lines(buf)
    assert "s3cret" not in record["event"] and "13800138000" not in record["event"]
    assert record["logger"] == "panoramisk"


def test_logs_follow_stderr_when_it_is_swapped_and_never_write_to_a_closed_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The CLI configures logging once; a harness that swaps and closes stderr must not break logging."""
    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure("info", json=True)
    get_logger("t").info("one")
    first.close()  # what a test harness does with its capture
    second = io.StringIO()
    monkeypatch.setattr("sys.stderr", second)
    get_logger("t").info("two")
    assert json.loads(second.getvalue())["event"] == "two"


class _Watched(dict[str, str]):
    """A field value that notes whether a processor looked inside it (the scrubbing does)."""

    looked = 0

    def items(self):  # type: ignore[no-untyped-def]
        _Watched.looked += 1
        return super().items()


def test_a_line_below_the_level_is_dropped_before_any_processing() -> None:
    buf = io.StringIO()
    configure(level="warning", json=True, stream=buf)
    log = get_logger("t")
    _Watched.looked = 0
    log.info("agent connect requested", extra=_Watched(phone="13800138000"))
    assert _Watched.looked == 0 and buf.getvalue() == ""
    log.warning("redirect failed", extra=_Watched(phone="13800138000"))
    assert _Watched.looked == 1 and lines(buf)[0]["extra"] == {"phone": "138****8000"}


def test_ids_made_of_letters_and_digits_stay_whole_and_numbers_beside_them_are_masked() -> None:
    """A call id is 32 hex digits: masking a run of digits inside it made the call unsearchable in the log
    (seen: ``6baa51c662b5405295e621******1575``). A number still is masked wherever it is delimited."""
    buf = capture()
    call_id = "6baa51c662b5405295e6211111575aaa"
    get_logger("t").info(
        f"call {call_id} ended",
        call_id=call_id,
        uniqueid="0e52f8a1887431cbb0774a08c371b4a1",
        channel="PJSIP/13800138000-0000001a",
        local="Local/13800138000@dcc-outbound/n",
        said="客户13800138000已接听",
    )
    (record,) = lines(buf)
    assert record["call_id"] == call_id and record["event"] == f"call {call_id} ended"
    assert record["uniqueid"] == "0e52f8a1887431cbb0774a08c371b4a1"
    assert record["channel"] == "PJSIP/138****8000-0000001a"
    assert record["local"] == "Local/138****8000@dcc-outbound/n"
    assert record["said"] == "客户138****8000已接听"
