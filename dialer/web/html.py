"""Server-rendered HTML: Jinja2 templates (``dialer/web/templates``) through aiohttp-jinja2, autoescaped.

Every page extends ``base.html`` (navigation for the user's role, language switch, logout); the
layout's values come from :func:`render`, so a handler passes only what its own page shows. Styles
and scripts are static files (``dialer/web/static``), which lets the CSP forbid inline code.
Elements tests and browser tests look for have stable ids.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from dialer.domain.access.policy import MATRIX, Action, Role, User
from dialer.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from dialer.web.dealers import QUERY as DEALER_QUERY
from dialer.web.dealers import chosen_dealer
from dialer.web.keys import CSRF, DEALER_CHOICES, LANG, SESSION


def t(request: web.Request, key: str, **params: object) -> str:
    """A user-facing string in the request's language, for text built in Python (titles, texts for the scripts);
    templates call the same as ``t(key, ...)`` and autoescape what it returns."""
    return translate(key, request.get(LANG, DEFAULT_LANGUAGE), **params)


def policy_user(request: web.Request) -> User | None:
    """The logged-in user as the access policy sees them."""
    session = request.get(SESSION)
    if session is None:
        return None
    return User(name=session.user.name, role=session.user.role, agent=session.user.agent)


# The navigation: (page path, i18n key, the action that must be allowed for the link to show).
_NAV: tuple[tuple[str, str, Action], ...] = (
    ("/desk", "web.nav.desk", Action.DESK_VIEW),
    ("/wallboard", "web.nav.wallboard", Action.WALLBOARD_VIEW),
    ("/campaigns", "web.nav.campaigns", Action.CAMPAIGN_VIEW),
    ("/import", "web.nav.import", Action.LEAD_IMPORT),
    ("/manage", "web.nav.manage", Action.LEAD_ASSIGN),
    ("/manage/owners", "web.nav.owners", Action.LEAD_ASSIGN),
    ("/reports", "web.nav.reports", Action.KPI_REPORT_VIEW),
    ("/recordings", "web.nav.recordings", Action.RECORDING_SEARCH),
    ("/dnc", "web.nav.dnc", Action.DNC_VIEW),
    ("/sms/waves", "web.nav.sms_waves", Action.SMS_WAVE),
    ("/qa", "web.nav.qa", Action.QA_SCORE),
    ("/promotions", "web.nav.promotions", Action.PROMOTION_MANAGE),
    ("/users", "web.nav.users", Action.USER_LIST),
    ("/phones", "web.nav.phones", Action.PHONE_MANAGE),
    ("/audit", "web.nav.audit", Action.AUDIT_VIEW),
    ("/recordings/status", "web.nav.recording_status", Action.RECORDING_MAINTAIN),
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


STATIC_DIR = Path(__file__).parent / "static"
_TEMPLATES_DIR = Path(__file__).parent / "templates"


def setup_templates(app: web.Application) -> None:
    """Install the template environment: autoescape on for every template, an unknown name an error."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # |tojson (texts handed to the static scripts in data- attributes) keeps Chinese readable in the page.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}


def render(request: web.Request, template: str, title: str, *, status: int = 200, **context: object) -> web.Response:
    """``template`` with the layout's values (user, navigation, language switch, ``t``, CSRF token)."""
    user = policy_user(request)
    lang = request.get(LANG, DEFAULT_LANGUAGE)
    chosen = chosen_dealer(request)
    keep = "" if chosen is None else f"?{DEALER_QUERY}={chosen.code}"  # the chosen dealer follows the links
    layout: dict[str, object] = {
        "title": title,
        "lang": lang,
        "t": partial(translate, language=lang),
        "csrf_token": request.get(CSRF, ""),
        "user": user,
        "nav": [] if user is None else [
            {"id": path.strip("/").replace("/", "-"), "path": path + keep, "key": key}
            for path, key, action in _NAV if action in _grantable(user.role)
        ],
        # A group-wide person's dealer filter (docs/web.md "Dealers"): every dealer, or one.
        "dealer_choices": request.get(DEALER_CHOICES, ()),
        "dealer_chosen": "" if chosen is None else chosen.code,
        "here": request.path,
        "switch": [(code, translate("web.lang.name", code)) for code in LANGUAGES if code != lang],
        "back_to": request.path_qs if request.method == "GET" else "/",
        # Whether to show a control for an action (the role's grant; the handler still checks the resource).
        "may": lambda action: allowed(request, Action(action)),
    }  # fmt: skip
    response = aiohttp_jinja2.render_template(template, request, {**layout, **context}, status=status)
    response.charset = "utf-8"
    return response


def allowed(request: web.Request, action: Action) -> bool:
    """Whether to show a control for ``action`` (role level; handlers still check the resource)."""
    user = policy_user(request)
    return user is not None and action in _grantable(user.role)
