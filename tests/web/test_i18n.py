"""The gettext catalogs: both languages have every key with the same placeholders, and every key the
code names literally exists, so a typo or a forgotten translation fails here instead of on a screen."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog, translate

_PACKAGE = Path(__file__).resolve().parents[2] / "dialer"
# translate(), the console's t() and inbound's alias tr(); the CLI's per-module _t() is read apart,
# with the prefix it puts before its keys.
_TRANSLATE_NAMES = frozenset({"translate", "t", "tr"})
_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
_SHORT_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
# A key prefix such as t("web.source." ~ value) ends in a dot and is not a key: _KEY leaves it out.
_TEMPLATE_CALL = re.compile(r'\bt\("([^"]+)"')


def _placeholders(text: str) -> set[str]:
    return {field for _literal, field, _spec, _conv in string.Formatter().parse(text) if field is not None}


def _literal_keys(node: ast.expr) -> Iterator[str]:
    """The keys an argument names for certain: a string literal, or either branch of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and _KEY.fullmatch(node.value):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _literal_keys(node.body)
        yield from _literal_keys(node.orelse)


def _keys_in_code() -> Iterator[tuple[str, int, str]]:
    for path in sorted(_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name in _TRANSLATE_NAMES:
                for arg in [*node.args, *(kw.value for kw in node.keywords if kw.arg == "key")]:
                    for key in _literal_keys(arg):
                        yield str(path.relative_to(_PACKAGE.parent)), node.lineno, key


def _cli_prefix(module: ast.Module) -> str | None:
    """The prefix a command module's ``_t(lang, key)`` puts before ``key`` (None: it has no ``_t``)."""
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "_t":
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "translate":
                    first = call.args[0]
                    if isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                        return str(first.values[0].value)
                    return ""
    return None


def _keys_in_commands() -> Iterator[tuple[str, int, str]]:
    """Literal keys of the command modules' ``_t()`` calls, with the module's prefix."""
    for path in sorted((_PACKAGE / "cli").glob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        prefix = _cli_prefix(module)
        if prefix is None:
            continue
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_t":
                for arg in node.args[1:2]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _SHORT_KEY.fullmatch(arg.value):
                        yield str(path.relative_to(_PACKAGE.parent)), node.lineno, prefix + arg.value


def _keys_in_templates() -> Iterator[tuple[str, int, str]]:
    """Literal keys of ``t("...")`` calls in the console's templates."""
    for path in sorted((_PACKAGE / "web" / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in _TEMPLATE_CALL.finditer(line):
                if _KEY.fullmatch(match.group(1)):
                    yield str(path.relative_to(_PACKAGE.parent)), number, match.group(1)


def test_both_languages_have_the_same_keys() -> None:
    keys = {language: set(catalog(language)) for language in LANGUAGES}
    assert keys["en"] - keys["zh-CN"] == set(), "missing in zh-CN"
    assert keys["zh-CN"] - keys["en"] == set(), "missing in en"


def test_placeholders_match_between_languages() -> None:
    english, chinese = catalog("en"), catalog("zh-CN")
    differ = {key: (_placeholders(english[key]), _placeholders(chinese[key])) for key in english if key in chinese}
    assert {key: pair for key, pair in differ.items() if pair[0] != pair[1]} == {}


def test_every_literal_key_in_the_code_and_templates_exists() -> None:
    known = set(catalog("en"))
    found = list(_keys_in_code())
    in_templates = list(_keys_in_templates())
    in_commands = list(_keys_in_commands())
    assert len(found) > 100 and len(in_templates) > 50 and len(in_commands) > 100, (
        "the scan found almost no keys: has the call style changed?"
    )
    found += in_templates + in_commands
    assert [f"{path}:{line}: {key}" for path, line, key in found if key not in known] == []


@pytest.mark.parametrize(
    ("key", "language", "expected"),
    [
        ("web.login.title", "en", "Log in"),
        ("web.login.throttled", "en", "Too many failed attempts. Try again in 5 s."),
        ("web.title", DEFAULT_LANGUAGE, "DCC 呼叫中心"),
        ("web.title", "fr", "DCC Dialer"),
        ("no.such.key", "en", "no.such.key"),
    ],
)
def test_translate(key: str, language: str, expected: str) -> None:
    assert translate(key, language, seconds=5) == expected
