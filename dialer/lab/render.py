"""Fill the PBX templates in ``asterisk/`` from the settings.

Placeholders are ``@NAME@`` (upper case), which cannot clash with Asterisk's own
``${...}`` dialplan syntax. Every placeholder must have a value and every value must
be used by some template, so a renamed setting fails loudly instead of leaving a
literal ``@X@`` in a config that Asterisk would silently accept.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dialer.lab import pjsip
from dialer.lab.errors import RenderError
from dialer.lab.layout import LAB_HOST, LabLayout
from dialer.lab.pjsip import SipPlan
from dialer.settings import Settings

# The templates ship in the source tree next to the package, not inside it.
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "asterisk"
# Files every PBX running the dialer needs; asterisk.conf only describes the lab's folders.
PBX_FILES = (
    "modules.conf",
    "pjsip.conf",
    "rtp.conf",
    "manager.conf",
    "extensions.conf",
    "queues.conf",
    "confbridge.conf",
    "amd.conf",
    "logger.conf",
    "cdr.conf",
    "http.conf",
)
LAB_FILES = ("asterisk.conf", "indications.conf", *PBX_FILES)
SOUND_FILES = ("dcc-abandon.ulaw", "dcc-welcome.ulaw")
# manager.conf carries the AMI secret, pjsip.conf the carrier's password and the phones' digest secrets.
_SECRET_FILES = frozenset({"manager.conf", "pjsip.conf"})
LOOPBACK_PERMIT = f"{LAB_HOST}/255.255.255.255"

# Placeholders that stand for whole sections: several lines by design, written from checked values.
_SECTIONS = frozenset(
    {
        "TRANSPORTS",
        "ACL_PERMITS",
        "CONTACT_PERMITS",
        "TRUNK_SECTIONS",
        "INBOUND_MATCHES",
        "PHONE_SECTIONS",
        "HTTP_SERVER",
    }
)

_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


@dataclass(frozen=True, slots=True)
class PbxTarget:
    """Where a rendering goes and what the rendered files must point at.

    The configs and a ``sounds/`` folder of prompts are written to ``etc_dir``;
    ``sounds_dir`` is the absolute folder the PBX will find the prompts in (for the lab
    the very ``etc_dir/sounds``; a dealer copies them wherever suits the PBX).
    ``sip`` is the network the SIP sections describe (the dealer's site, or the lab's loopback).
    ``lab_root`` is only set for the lab.
    """

    etc_dir: Path
    sounds_dir: Path
    sip: SipPlan
    ami_permit: str = LOOPBACK_PERMIT
    lab_root: Path | None = None


def fill(template: str, values: Mapping[str, str], where: str) -> tuple[str, set[str]]:
    """Replace every ``@NAME@`` in ``template``; return the text and the names used.

    Raises :class:`RenderError` naming ``where`` and the line for a placeholder without a value.
    """
    used: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            line = template.count("\n", 0, match.start()) + 1
            raise RenderError(f"{where}:{line}: no value for placeholder @{name}@")
        used.add(name)
        return values[name]

    return _PLACEHOLDER.sub(substitute, template), used


def template_values(settings: Settings, target: PbxTarget) -> dict[str, str]:
    """Every placeholder's value for ``settings`` rendered towards ``target``."""
    layout = LabLayout.from_settings(settings)
    sip = target.sip
    values = {
        **_sip_values(sip),
        "CARRIER_ENDPOINT": sip.trunk.endpoint,
        "RTP_START": str(sip.site.rtp_start),
        "RTP_END": str(sip.site.rtp_end),
        "AMI_HOST": settings.pbx.ami_host,
        "AMI_PORT": str(settings.pbx.ami_port),
        "AMI_USER": settings.pbx.ami_user,
        "AMI_SECRET": settings.pbx.ami_secret,
        "AMI_PERMIT": target.ami_permit,
        "OUT_LINES": str(settings.pbx.outbound_lines),
        "IN_LINES": str(settings.pbx.inbound_lines),
        "REC_DIR": str(layout.recordings),
        "SOUNDS_DIR": str(target.sounds_dir),
        # Dial() and queues.conf take whole seconds; never round a ring time down to zero.
        "AGENT_RING_S": str(max(1, math.ceil(settings.calls.agent_answer_timeout_s))),
        "ETC_DIR": str(target.etc_dir),
        **_amd_values(settings),
    }
    if target.lab_root is not None:
        values["LAB_DIR"] = str(target.lab_root)
    for name, value in values.items():
        if name in _SECTIONS:
            continue
        # Asterisk would end the value at a newline and read the rest of a line after ';'
        # as a comment: refuse rather than render a silently different config.
        if "\n" in value or ";" in value:
            raise RenderError(
                f"setting for @{name}@ = {value!r}: newline and ';' cannot be written into an Asterisk config"
            )
    return values


def render(settings: Settings, target: PbxTarget, files: tuple[str, ...] = PBX_FILES) -> list[Path]:
    """Render ``files`` into ``target.etc_dir`` and copy the prompts into ``target.etc_dir/sounds``.

    Returns the written paths. Raises :class:`RenderError` on a placeholder without a
    value, or a value no template used (a sign the templates and this module drifted).
    """
    values = template_values(settings, target)
    sounds_out = target.etc_dir / "sounds"
    sounds_out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for name in files:
        source = TEMPLATE_DIR / name
        text, names = fill(source.read_text(encoding="utf-8"), values, str(source))
        used |= names
        out = target.etc_dir / name
        _write(out, text, secret=name in _SECRET_FILES)
        written.append(out)
    unused = sorted(set(values) - used - _optional_for(files))
    if unused:
        raise RenderError(f"{TEMPLATE_DIR}: values never used by {', '.join(files)}: {', '.join(unused)}")
    for sound in SOUND_FILES:
        out = sounds_out / sound
        shutil.copyfile(TEMPLATE_DIR / "sounds" / sound, out)
        written.append(out)
    return written


def _amd_values(settings: Settings) -> dict[str, str]:
    """amd.conf's values, ``@AMD_<KEY>@`` for each ``[calls.amd_tuning]`` key that app_amd reads."""
    tuning = settings.calls.amd_tuning
    return {
        f"AMD_{f.name.upper()}": str(getattr(tuning, f.name))
        for f in dataclasses.fields(tuning)
        if f.name != "connect_reserve_ms"  # the dialer's share of the budget, not app_amd's
    }


def _optional_for(files: tuple[str, ...]) -> set[str]:
    # ETC_DIR and LAB_DIR only appear in asterisk.conf, which a dealer's rendering omits.
    return set() if "asterisk.conf" in files else {"ETC_DIR", "LAB_DIR"}


def _sip_values(sip: SipPlan) -> dict[str, str]:
    """The SIP placeholders of pjsip.conf: whole sections (``_SECTIONS``) and single values."""
    return {
        "TRANSPORTS": pjsip.transports(sip.site),
        "ACL_PERMITS": pjsip.acl_permits(sip),
        "CONTACT_PERMITS": pjsip.contact_permits(sip.site),
        "TRUNK_SECTIONS": pjsip.trunk_sections(sip.trunk),
        "INBOUND_MATCHES": pjsip.inbound_matches(sip.trunk),
        "PHONE_SECTIONS": pjsip.phone_sections(sip.phones, sip.site.browser.endpoints),
        "HTTP_SERVER": pjsip.http_server(sip.site.browser),
        "MEDIA_ADDRESS": sip.site.address,
        "BROWSER_MEDIA_ADDRESS": sip.site.browser.media_address or sip.site.address,
        "PHONE_MAX_EXPIRATION": str(pjsip.PHONE_MAX_EXPIRATION_S),
    }


def _write(path: Path, text: str, *, secret: bool) -> None:
    # Written through a temporary file so a running Asterisk never reads half a config.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if secret:
        os.chmod(tmp, 0o600)
    tmp.replace(path)
