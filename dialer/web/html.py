"""Server-rendered HTML: one layout, escaping helpers, forms that always carry the CSRF token.

No template engine: the pages are few and small, and building them from escaped pieces keeps
every interpolation visibly escaped. Elements tests and browser tests look for have stable ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

from aiohttp import web

from dialer.domain.access.policy import MATRIX, Action, Resource, Role, User, can
from dialer.i18n import LANGUAGES, translate
from dialer.web.keys import CSRF, LANG, SESSION

_STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f6f8;color:#222}
header{background:#1f3a5f;color:#fff;padding:.5em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
header a{color:#fff}header form{display:inline;margin:0}main{padding:1em;max-width:72em}
table{border-collapse:collapse;background:#fff;margin:.5em 0}td,th{border:1px solid #ccd;padding:.25em .6em;text-align:left}
.error{color:#b00020}.field-error{color:#b00020;font-size:.9em;margin-left:.5em}.card{background:#fff;padding:1em;margin:.5em 0;border:1px solid #ccd}
label{display:block;margin:.4em 0}.script{background:#eef6ee;padding:.5em;border-left:4px solid #4a4}.overdue{color:#b00020;font-weight:bold}
label.inline{display:inline;margin:0 .5em}a.button{display:inline-block;background:#1f3a5f;color:#fff;padding:.4em 1em;text-decoration:none;font-weight:bold}
.agent-state[data-state=on_call]{color:#0a5}.agent-state[data-state=wrap_up]{color:#a60}.agent-state[data-state=paused],.agent-state[data-state=logged_out]{color:#888}
.tiles{display:flex;flex-wrap:wrap;gap:1em}.tile{background:#fff;border:1px solid #ccd;padding:1em;min-width:10em}.tile b{font-size:2em;display:block}
"""


def esc(value: object) -> str:
    """Text as HTML; None shows as an empty cell."""
    return "" if value is None else escape(str(value), quote=True)


def t(request: web.Request, key: str, **params: object) -> str:
    """A user-facing string in the request's language (escaped by the caller where it goes into HTML)."""
    return translate(key, request.get(LANG, "zh-CN"), **params)


def policy_user(request: web.Request) -> User | None:
    """The logged-in user as the access policy sees them."""
    session = request.get(SESSION)
    if session is None:
        return None
    return User(name=session.user.name, role=session.user.role, agent=session.user.agent)


def csrf_field(request: web.Request) -> str:
    """The hidden input every POST form carries."""
    return f'<input type="hidden" name="csrf_token" value="{esc(request.get(CSRF, ""))}">'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], table_id: str) -> str:
    """A plain table with escaped cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{esc(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# The navigation: (page path, i18n key, the action that must be allowed for the link to show).
_NAV: tuple[tuple[str, str, Action], ...] = (
    ("/desk", "web.nav.desk", Action.DESK_VIEW),
    ("/wallboard", "web.nav.wallboard", Action.WALLBOARD_VIEW),
    ("/import", "web.nav.import", Action.LEAD_IMPORT),
    ("/manage", "web.nav.manage", Action.LEAD_ASSIGN),
    ("/reports", "web.nav.reports", Action.KPI_REPORT_VIEW),
    ("/recordings", "web.nav.recordings", Action.RECORDING_SEARCH),
    ("/users", "web.nav.users", Action.USER_LIST),
)


def home_path(role: Role) -> str:
    """Where a user lands after login: the first page of the navigation their role may open."""
    for path, _key, action in _NAV:
        if action in _grantable(role):
            return path
    return "/login"


def _grantable(role: Role) -> set[Action]:
    """The actions a role has any grant for (own or all): what its navigation may show."""
    return {action for action, grants in MATRIX.items() if role in grants}


def page(request: web.Request, title: str, body: str, *, status: int = 200, script: str = "") -> web.Response:
    """The layout around ``body``: navigation for the user's role, language switch, logout."""
    user = policy_user(request)
    lang = request.get(LANG, "zh-CN")
    nav = ""
    if user is not None:
        allowed = _grantable(user.role)
        links = "".join(f'<a id="nav-{esc(path.strip("/"))}" href="{path}">{esc(t(request, key))}</a>'
                        for path, key, action in _NAV if action in allowed)  # fmt: skip
        nav = (
            f'<span id="who">{esc(user.name)} ({esc(t(request, "web.role." + user.role.value))})</span>{links}'
            f'<form method="post" action="/logout">{csrf_field(request)}'
            f'<button id="logout" type="submit">{esc(t(request, "web.logout"))}</button></form>'
        )
    switch = "".join(
        f'<button name="lang" value="{code}" id="lang-{code}" type="submit">{esc(translate("web.lang.name", code))}</button>'
        for code in LANGUAGES
        if code != lang
    )
    lang_form = f'<form method="post" action="/lang">{csrf_field(request)}<input type="hidden" name="next" value="{esc(request.path_qs if request.method == "GET" else "/")}">{switch}</form>'
    html = (
        f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
        f"<style>{_STYLE}</style></head><body><header><b>{esc(t(request, 'web.title'))}</b>{nav}{lang_form}</header>"
        f'<main id="main"><h1 id="page-title">{esc(title)}</h1>{body}</main>'
        f"{'<script>' + script + '</script>' if script else ''}</body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status, charset="utf-8")


def field_errors(errors: Mapping[str, str], name: str) -> str:
    """The error shown next to one form field (id ``error-<name>``), or nothing."""
    message = errors.get(name)
    return f'<span class="field-error" id="error-{esc(name)}">{esc(message)}</span>' if message else ""


def allowed(request: web.Request, action: Action) -> bool:
    """Whether to show a control for ``action`` (role level; handlers still check the resource)."""
    user = policy_user(request)
    return user is not None and action in _grantable(user.role)


def can_on(request: web.Request, action: Action, agent: str | None) -> bool:
    """The full policy decision for a resource owned by ``agent``."""
    user = policy_user(request)
    return user is not None and can(user, action, Resource(agent=agent)).allowed
