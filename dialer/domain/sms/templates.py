"""SMS templates: Chinese texts with named variables, checked when the dialer starts.

Why validated up front: a typo in a variable name would otherwise surface as a broken
message on a customer's phone, or as a crash in the middle of a 500-customer wave. Every
message ends with the dealer signature 【...】; promotional ones also carry the opt-out
text (回T退订), which the law and the operators require.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from dialer.domain.sms.errors import SmsConfigError

# The variables a template may use; the sender fills them from the lead, the visit and the dealer.
VARIABLES: frozenset[str] = frozenset(
    {"customer", "model", "date", "time", "address", "consultant", "consultant_phone", "dealer"}
)

_TEMPLATE_KEYS = frozenset({"text", "promotional", "description"})


@dataclass(frozen=True, slots=True)
class Template:
    """One named text; ``promotional`` decides the opt-out text and the frequency caps."""

    name: str
    text: str
    promotional: bool
    variables: frozenset[str]


@dataclass(frozen=True, slots=True)
class TemplateBook:
    """All templates plus the dealer facts they share (signature, opt-out text, address, phone)."""

    signature: str
    opt_out_text: str
    address: str
    # The showroom's number: {consultant_phone} of a customer's message when their consultant has no
    # mobile in the dialer (users.mobile), so a customer's confirmation never depends on that list.
    phone: str | None
    templates: Mapping[str, Template]

    def get(self, name: str) -> Template:
        """The template called ``name``; unknown names are a config error naming it."""
        try:
            return self.templates[name]
        except KeyError:
            known = ", ".join(sorted(self.templates))
            raise SmsConfigError(f"SMS template {name!r} does not exist (known: {known})") from None

    def render(self, name: str, values: Mapping[str, str]) -> str:
        """The final text: filled template, opt-out text when promotional, then the signature.

        Missing values are an error naming the template and the variable, so a
        message never goes out with a hole in it.
        """
        template = self.get(name)
        fill = {"address": self.address, **values}
        if not fill.get("consultant_phone") and self.phone:
            fill["consultant_phone"] = self.phone
        missing = sorted(v for v in template.variables if not fill.get(v))
        if missing:
            raise SmsConfigError(f"SMS template {name!r}: no value for {', '.join(missing)}")
        text = template.text.format_map(fill)
        if template.promotional and self.opt_out_text not in text:
            text = f"{text}{self.opt_out_text}"
        return f"{self.signature}{text}" if not text.startswith(self.signature) else text


def load_templates(path: Path) -> TemplateBook:
    """Read and validate the template file; every problem names the template and the field."""
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmsConfigError(f"{where}: SMS template file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SmsConfigError(f"{where}: not valid TOML: {exc}") from None
    return parse_templates(data, where)


def parse_templates(data: Mapping[str, object], where: str) -> TemplateBook:
    """Validate an already-parsed template document (``where`` names it in errors)."""
    dealer = data.get("dealer", {})
    if not isinstance(dealer, Mapping):
        raise SmsConfigError(f"{where}: [dealer] must be a table")
    signature = _text(dealer, "signature", f"{where}: dealer")
    if not (signature.startswith("【") and signature.endswith("】") and len(signature) > 2):
        raise SmsConfigError(f"{where}: dealer.signature = {signature!r}: must look like 【经销商名称】")
    opt_out_text = _text(dealer, "opt_out_text", f"{where}: dealer")
    address = _text(dealer, "address", f"{where}: dealer")
    phone = _text(dealer, "phone", f"{where}: dealer") if "phone" in dealer else None
    if "consultants" in data:
        raise SmsConfigError(
            f"{where}: [consultants] is no longer read: the visit notice goes to the lead owner's own mobile,"
            " set with 'dialer users mobile NAME NUMBER'; remove the table"
        )
    raw = data.get("templates")
    if not isinstance(raw, Mapping) or not raw:
        raise SmsConfigError(f"{where}: no [templates.<name>] tables")
    templates = {name: _template(name, body, f"{where}: templates.{name}") for name, body in raw.items()}
    unknown_top = sorted(set(data) - {"dealer", "templates"})
    if unknown_top:
        raise SmsConfigError(f"{where}: unknown table(s) {', '.join(unknown_top)}")
    users = sorted(t.name for t in templates.values() if "consultant_phone" in t.variables)
    if users and phone is None:
        raise SmsConfigError(
            f"{where}: dealer.phone: missing; {', '.join(users)} use {{consultant_phone}}, and a customer whose"
            " consultant has no mobile in the dialer gets the showroom's number instead"
        )
    return TemplateBook(signature, opt_out_text, address, phone, MappingProxyType(templates))


def _template(name: str, body: object, where: str) -> Template:
    if not isinstance(body, Mapping):
        raise SmsConfigError(f"{where}: must be a table with text = ...")
    unknown = sorted(set(body) - _TEMPLATE_KEYS)
    if unknown:
        raise SmsConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    text = _text(body, "text", where)
    promotional = body.get("promotional", False)
    if not isinstance(promotional, bool):
        raise SmsConfigError(f"{where}: promotional = {promotional!r}: expected true or false")
    try:
        fields = [f for _, f, spec, conv in string.Formatter().parse(text) if f is not None or spec or conv]
    except ValueError as exc:
        raise SmsConfigError(f"{where}: text is not a valid template: {exc}") from None
    for field_name in fields:
        if field_name not in VARIABLES:
            known = ", ".join(sorted(VARIABLES))
            raise SmsConfigError(f"{where}: unknown variable {{{field_name}}} (known: {known})")
    return Template(name, text, promotional, frozenset(f for f in fields if f))


def _text(table: Mapping[str, object], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SmsConfigError(f"{where}.{key}: missing or empty")
    return value
