"""Configuration: one TOML file, parsed and validated at start-up in one place.

Every rule with a number in it (line limits, ring time, the early-hang-up window,
...) lives here with a documented default, so the code reads it instead of
carrying constants. ``config/dialer.toml`` is the annotated sample.

Any value can be overridden from the environment as ``DIALER__SECTION__KEY``
(e.g. ``DIALER__PBX__AMI_SECRET``), which is how secrets stay out of files.
Errors name the file, the key and the value.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "DIALER__"
DEFAULT_CONFIG = Path("config/dialer.toml")


class ConfigError(ValueError):
    """The configuration is unusable; the message says where and why."""


@dataclass(frozen=True, slots=True)
class DealerSettings:
    """Who we are; used in greetings, SMS signatures and reports."""

    name: str = "DCC 汽车经销商"
    timezone: str = "Asia/Shanghai"
    region: str = "CN"  # default region for phone numbers without a country code


@dataclass(frozen=True, slots=True)
class PbxSettings:
    """How to reach Asterisk and the limits the PBX enforces."""

    ami_host: str = "127.0.0.1"
    ami_port: int = 15038
    ami_user: str = "dialer"
    ami_secret: str = "change-me"
    # The handbook's "4 in 8 out": the dialer never asks for more, the dialplan refuses more.
    outbound_lines: int = 8
    inbound_lines: int = 4
    carrier_endpoint: str = "carrier"
    dial_format: str = "national"  # national | e164
    caller_id: str = ""
    # How long a customer's phone may ring before the attempt is a no-answer.
    ring_timeout_s: float = 30.0
    action_timeout_s: float = 5.0
    ping_interval_s: float = 5.0
    ping_timeout_s: float = 3.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 15.0
    event_queue_size: int = 10000


@dataclass(frozen=True, slots=True)
class CallSettings:
    """Rules that classify a call and protect the customer's experience."""

    # Answered calls wait at most this long for an agent; then they hear the
    # abandon message and count as abandoned (the 2-second rule).
    abandon_after_s: float = 2.0
    # A customer who hangs up within this many seconds of answering, before an
    # agent was connected, is an early hang-up rather than an abandoned call.
    early_hangup_s: float = 2.0
    amd: bool = True  # answering-machine detection on outbound calls
    agent_answer_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class LabSettings:
    """The private Asterisk and SIPp parties of ``dialer lab``: loopback only, high ports."""

    dir: str = "var/lab"
    sip_port: int = 15060
    carrier_port: int = 15070
    agents_port: int = 15080
    supervisor_port: int = 15090
    inbound_port: int = 15100  # SIPp callers send from here (issue 6 uses it)
    rtp_start: int = 20000
    rtp_end: int = 29999
    agents: int = 8
    customers_file: str = "asterisk/sipp/customers.csv"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the embedded store lives."""

    path: str = "var/dialer.sqlite3"


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """Where call recordings are written (by Asterisk's MixMonitor)."""

    dir: str = "var/recordings"


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    json: bool | None = None  # None: JSON when stderr is not a terminal


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration, as the composition root hands it out."""

    dealer: DealerSettings = field(default_factory=DealerSettings)
    pbx: PbxSettings = field(default_factory=PbxSettings)
    calls: CallSettings = field(default_factory=CallSettings)
    lab: LabSettings = field(default_factory=LabSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    log: LogSettings = field(default_factory=LogSettings)
    # Directory that relative paths in this config are resolved against.
    base_dir: str = "."

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the directory of the config file's project."""
        p = Path(relative)
        return p if p.is_absolute() else Path(self.base_dir) / p


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (default ``$DIALER_CONFIG`` or ``config/dialer.toml``), apply env overrides, validate.

    A missing default file yields the documented defaults; a missing explicit file is an error.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "DIALER_CONFIG" in env
    cfg_path = Path(path or env.get("DIALER_CONFIG") or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"{cfg_path}: config file not found")
    _apply_env(data, env)
    base = cfg_path.resolve().parent.parent if cfg_path.parent.name == "config" else cfg_path.resolve().parent
    data.setdefault("base_dir", str(base))
    settings = _build(Settings, data, str(cfg_path))
    _validate(settings, str(cfg_path))
    return settings


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__")]
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}: {name}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "auto")):
            return None
        return _coerce(args[0], value, where)
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp) or (str,)
        if not isinstance(value, list):
            raise ConfigError(f"{where} = {value!r}: expected a list")
        return tuple(_coerce(item_tp, v, where) for v in value) if origin is tuple else [
            _coerce(item_tp, v, where) for v in value
        ]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where} = {value!r}: expected true or false")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: expected a number")
        try:
            number = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} = {value!r}: expected a number") from None
        if tp is int and isinstance(value, float) and value != int(value):
            raise ConfigError(f"{where} = {value!r}: expected a whole number")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: expected text")
        return value
    return value


def _validate(s: Settings, where: str) -> None:
    problems: list[str] = []
    if not 1 <= s.pbx.outbound_lines <= 240:
        problems.append(f"pbx.outbound_lines = {s.pbx.outbound_lines}: must be between 1 and 240")
    if not 0 <= s.pbx.inbound_lines <= 240:
        problems.append(f"pbx.inbound_lines = {s.pbx.inbound_lines}: must be between 0 and 240")
    if s.pbx.dial_format not in ("national", "e164"):
        problems.append(f"pbx.dial_format = {s.pbx.dial_format!r}: must be 'national' or 'e164'")
    if s.calls.abandon_after_s <= 0:
        problems.append(f"calls.abandon_after_s = {s.calls.abandon_after_s}: must be positive")
    if s.calls.early_hangup_s < 0:
        problems.append(f"calls.early_hangup_s = {s.calls.early_hangup_s}: must not be negative")
    if s.lab.rtp_end - s.lab.rtp_start < 100:
        problems.append("lab.rtp_start..rtp_end: give RTP at least 100 ports (2 per call)")
    if s.log.level.lower() not in ("debug", "info", "warning", "error"):
        problems.append(f"log.level = {s.log.level!r}: must be debug, info, warning or error")
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
