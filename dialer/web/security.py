"""The one access gate: session, language, CSRF and role checks for every request, from the route table.

Order matters and is fixed here: find the route's declaration, load the session from its cookie,
refuse a state-changing request without the right CSRF token, then refuse a route the user's role
may not use (per dialer.domain.access.policy). Handlers only ever see requests that passed; checks that
depend on the resource (an agent's own lead or recording) stay in the handler, through the policy.

CSRF: a logged-in session has a synchronizer token stored with it; before login (the login form,
the language switch) a double-submit cookie is used. Either way the token travels in the form
field ``csrf_token`` or the ``X-CSRF-Token`` header, never only in a cookie.

Every answer carries a Content-Security-Policy that allows no inline script or style: the pages'
scripts and stylesheet are static files (dialer/web/static), so markup that slipped past escaping
still cannot run. ``'self'`` also covers the console's own websockets.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from dialer.i18n import LANGUAGES
from dialer.logs import get_logger
from dialer.web.errors import WebError
from dialer.web.html import render, t
from dialer.web.keys import AUTH, CSRF, LANG, ROUTES, SESSION, SETTINGS
from dialer.web.routing import Open

log = get_logger(__name__)

SESSION_COOKIE = "dcc_session"
CSRF_COOKIE = "dcc_csrf"
LANG_COOKIE = "dcc_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_BYTES = 32
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def wants_json(request: web.Request) -> bool:
    """API callers get JSON errors; browsers get pages and redirects."""
    return request.path.startswith("/api/") or request.path == "/metrics"


def error_response(
    request: web.Request, status: int, code: str, message: str = "", fields: dict[str, str] | None = None
) -> web.Response:
    """A refusal in the caller's format."""
    if wants_json(request):
        body: dict[str, object] = {"error": code, "message": message or code}
        if fields:
            body["fields"] = fields
        return web.json_response(body, status=status)
    return render(request, "error.html", t(request, f"web.error.{status}"), status=status, message=message or code)


async def _submitted_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached by aiohttp: the handler reads the same form again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """See the module docstring; every route goes through here."""
    response = await _gate(request, handler)
    if not response.prepared:  # a websocket has sent its headers already
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


async def _gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, language, CSRF and role checks, then the handler (the order the module docstring gives)."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        return error_response(
            request,
            match_info.http_exception.status,
            "not_found" if match_info.http_exception.status == 404 else "method_not_allowed",
        )
    spec = request.app[ROUTES].get(match_info.handler)
    if spec is None:
        # Only routes from the table are installed; anything else is a wiring mistake: refuse it.
        log.error("web.undeclared_route", path=request.path)
        return error_response(request, 500, "undeclared_route")
    settings = request.app[SETTINGS]
    lang = request.cookies.get(LANG_COOKIE)
    request[LANG] = lang if lang in LANGUAGES else settings.ui.language
    token = request.cookies.get(SESSION_COOKIE)
    session = await request.app[AUTH].session(token) if token else None
    request[SESSION] = session
    anon_csrf = request.cookies.get(CSRF_COOKIE) or ""
    request[CSRF] = session.csrf if session else anon_csrf or secrets.token_urlsafe(_TOKEN_BYTES)

    if request.method not in _SAFE_METHODS:
        expected = session.csrf if session else anon_csrf
        submitted = await _submitted_token(request)
        if not expected or not submitted or not hmac.compare_digest(expected, submitted):
            log.warning("web.csrf_refused", path=request.path, method=request.method, logged_in=session is not None)
            return error_response(request, 403, "csrf", "CSRF token missing or wrong")

    if spec.access is not Open.PUBLIC:
        if session is None:
            if wants_json(request) or request.method != "GET":
                return error_response(request, 401, "login_required")
            raise web.HTTPFound(f"/login?next={request.path_qs}" if request.path != "/" else "/login")
        if session.user.role not in spec.allowed_roles():
            log.warning("web.forbidden", path=request.path, user=session.user.name, role=session.user.role.value)
            return error_response(request, 403, "forbidden")

    try:
        response = await handler(request)
    except WebError as exc:
        response = error_response(request, exc.status, exc.code, exc.message, getattr(exc, "fields", None))
    if session is None and not anon_csrf and not response.prepared:
        response.set_cookie(
            CSRF_COOKIE, request[CSRF], httponly=True, samesite="Strict", secure=settings.web.cookie_secure, path="/"
        )
    return response
