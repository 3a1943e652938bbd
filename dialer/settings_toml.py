"""Settings written back as annotated TOML: the sample config and ``dialer config show``.

The sample file in ``config/`` is this module's output for the defaults, so the
documented defaults and the code's defaults cannot drift apart (a test checks).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import re
from typing import Any

from dialer.settings import Settings

_HEADER = """\
# DCC Dialer configuration. Every key is optional: a missing key takes the default shown here.
# Any key can be overridden from the environment as DIALER__SECTION__KEY (e.g.
# DIALER__PBX__AMI_SECRET); keep secrets there, not in this file.
# Relative paths are resolved against the folder above config/.
"""


def to_toml(settings: Settings) -> str:
    """``settings`` as TOML, each table preceded by its dataclass docstring as comments."""
    out = [_HEADER]
    _table(settings, [], out)
    return "\n".join(out).rstrip() + "\n"


def _table(obj: Any, path: list[str], out: list[str]) -> None:
    scalars: list[tuple[str, Any]] = []
    tables: list[tuple[str, Any]] = []
    for f in dataclasses.fields(obj):
        if f.name == "base_dir":
            continue
        value = getattr(obj, f.name)
        (tables if dataclasses.is_dataclass(value) else scalars).append((f.name, value))
    if path:
        out.append("")
        doc = inspect.getdoc(type(obj)) or ""
        out.extend(f"# {line}".rstrip() for line in doc.splitlines())
        out.append(f"[{'.'.join(path)}]")
    comments = _field_comments(obj.__class__)
    for name, value in scalars:
        above, inline = comments.get(name, ((), ""))
        out.extend(f"# {line}" for line in above)
        out.append(f"{name} = {_value(value)}" + (f"  # {inline}" if inline else ""))
    for name, value in tables:
        _table(value, [*path, name], out)


_FIELD = re.compile(r"^    (\w+): [^=]+=[^#]*(?:#\s*(.*))?$")


@functools.cache
def _field_comments(cls: type) -> dict[str, tuple[tuple[str, ...], str]]:
    """The comments written above and beside each field in the dataclass's source."""
    found: dict[str, tuple[tuple[str, ...], str]] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD.match(line)
        if match:
            found[match.group(1)] = (tuple(pending), (match.group(2) or "").strip())
        pending = []
    return found


def _value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)
