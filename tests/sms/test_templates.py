"""Templates are validated at start-up: a wrong variable is a config error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.domain.sms.errors import SmsConfigError
from dialer.domain.sms.templates import parse_templates
from dialer.settings import Settings
from dialer.sms.factory import templates

REPO = Path(__file__).resolve().parents[2]

DEALER = {"signature": "【DCC汽车】", "opt_out_text": "回T退订", "address": "上海市浦东新区张杨路1888号"}


def book(**tpls: dict[str, object]):
    return parse_templates({"dealer": DEALER, "templates": tpls}, "t.toml")


def test_unknown_variable_names_template_and_variable() -> None:
    with pytest.raises(SmsConfigError, match=r"templates\.promo: unknown variable \{cutomer\}"):
        book(promo={"text": "{cutomer}您好", "promotional": True})


def test_positional_and_attribute_fields_are_refused() -> None:
    with pytest.raises(SmsConfigError, match=r"unknown variable \{\}"):
        book(a={"text": "您好{}"})
    with pytest.raises(SmsConfigError, match=r"unknown variable \{customer.name\}"):
        book(a={"text": "{customer.name}"})


def test_promotional_text_gets_signature_and_opt_out_text_transactional_only_the_signature() -> None:
    b = book(
        promo={"text": "{customer}，{model}限时优惠。", "promotional": True},
        visit={"text": "{customer}，地址：{address}"},
    )
    assert (
        b.render("promo", {"customer": "张先生", "model": "迈锐宝XL"}) == "【DCC汽车】张先生，迈锐宝XL限时优惠。回T退订"
    )
    assert b.render("visit", {"customer": "李女士"}) == "【DCC汽车】李女士，地址：上海市浦东新区张杨路1888号"


def test_missing_value_is_refused_rather_than_sent_with_a_hole() -> None:
    b = book(visit={"text": "{customer}，顾问{consultant}"})
    with pytest.raises(SmsConfigError, match="'visit': no value for consultant"):
        b.render("visit", {"customer": "李女士", "consultant": ""})


def test_signature_must_be_bracketed() -> None:
    with pytest.raises(SmsConfigError, match="signature"):
        parse_templates({"dealer": {**DEALER, "signature": "DCC"}, "templates": {"a": {"text": "x"}}}, "t.toml")


def test_unknown_template_name_lists_the_known_ones() -> None:
    with pytest.raises(SmsConfigError, match=r"'nope' does not exist \(known: a\)"):
        book(a={"text": "x"}).get("nope")


def test_the_shipped_template_file_is_valid_and_promotes_with_opt_out() -> None:
    shipped = templates(Settings(base_dir=str(REPO)))
    text = shipped.render("repurchase", {"customer": "张先生", "model": "迈锐宝XL", "dealer": "DCC汽车"})
    assert text.startswith("【DCC汽车】") and text.endswith("回T退订")
    assert {"visit_confirmation", "visit_consultant", "visit_reminder"} <= set(shipped.templates)


def test_the_consultant_list_is_gone_and_its_replacement_named() -> None:
    """The visit notice goes to the owner's own mobile (users.mobile): a [consultants] table is refused, not ignored."""
    with pytest.raises(SmsConfigError, match=r"\[consultants\] is no longer read.*dialer users mobile"):
        parse_templates(
            {"dealer": DEALER, "consultants": {"王丽": "13900139000"}, "templates": {"a": {"text": "x"}}}, "t"
        )


def test_a_customer_text_with_the_consultants_number_needs_the_showrooms_number() -> None:
    """{consultant_phone} falls back to [dealer] phone, so a customer's message never waits on a consultant's mobile."""
    with pytest.raises(SmsConfigError, match=r"dealer.phone: missing; visit use \{consultant_phone\}"):
        book(visit={"text": "顾问{consultant}（{consultant_phone}）"})
    b = parse_templates(
        {"dealer": {**DEALER, "phone": "021-58881888"}, "templates": {"visit": {"text": "（{consultant_phone}）"}}}, "t"
    )
    assert b.render("visit", {}) == "【DCC汽车】（021-58881888）"
    assert b.render("visit", {"consultant_phone": "13900139000"}) == "【DCC汽车】（13900139000）"
