"""User-facing words in Chinese (default) and English.

One gettext catalog per language, ``dialer/locale/<locale>/LC_MESSAGES/messages.po``, the key as
msgid. A key missing from a language falls back to English so a half-translated screen still
says something true. Code, logs and docs stay English; only what a DCC user reads goes through here.

The ``.po`` files are read with Babel on first use rather than compiled to ``.mo``: they are the
one source of truth, a build or bootstrap step that compiles them could be forgotten and leave a
stale ``.mo`` behind, and parsing ~500 short messages once per process costs milliseconds.
Parameters are filled with ``str.format`` (``{name}`` placeholders), which the tests check are the
same in both languages.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")

_FALLBACK = "en"
# The language codes the UI uses, to gettext's locale folder names.
_LOCALE_DIRS = {"zh-CN": "zh_CN", "en": "en"}


@cache
def catalog(language: str) -> dict[str, str]:
    """Every translated key of one of :data:`LANGUAGES`, from its ``.po`` file (read once)."""
    source = resources.files("dialer") / "locale" / _LOCALE_DIRS[language] / "LC_MESSAGES" / "messages.po"
    with source.open("rb") as handle:
        messages = read_po(handle)
    # Skipped: the header (msgid ""), plural entries (tuples; the UI has none) and empty msgstr, which
    # gettext means as "not translated yet" and translate() answers from English.
    return {
        message.id: message.string
        for message in messages
        if isinstance(message.id, str) and message.id and isinstance(message.string, str) and message.string
    }


def translate(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """The text for ``key`` in ``language`` with ``{params}`` filled in."""
    texts = catalog(language if language in _LOCALE_DIRS else _FALLBACK)
    text = texts.get(key) or catalog(_FALLBACK).get(key) or key
    return text.format(**params) if params else text
