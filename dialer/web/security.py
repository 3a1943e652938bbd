"""The one access gate: session, language, role, body and CSRF checks for every request, from the route table.

Order matters and is fixed here: find the route's declaration, load the session from its cookie,
refuse a route the user's role may not use (per dialer.domain.access.policy), then, for a
state-changing request, refuse a body past the route's limit and a missing or wrong CSRF token
(the role comes first because it needs no body, and the token may be in the body). Handlers only
ever see requests that passed; checks that depend on the resource (an agent's own lead or
recording) stay in the handler, through the policy.

CSRF: a logged-in session has a synchronizer token stored with it; before login (the login form,
the language switch) a double-submit cookie is used. Either way the token travels in the form
field ``csrf_token`` or the ``X-CSRF-Token`` header, never only in a cookie.

Bodies: nothing is read before the route and the session allow it. A route that needs a login
refuses an anonymous request (401) or the wrong role (403) from the headers alone; a body is then
read up to ``[web] form_max_kb`` (the login form, every JSON call), and only a lead import by a
user whose role may import may send up to ``upload_max_mb``. A declared Content-Length past the
limit is refused (413) before a byte is read; a chunked body is cut off at the limit by aiohttp.
A form the gate cannot parse (multipart without a boundary, a charset nobody knows) is a 400
naming ``body``; the handlers then read the form the gate already parsed.

Every answer (pages, API, redirects, errors, static files, websockets' handshakes) carries the
headers of :func:`security_headers`: a Content-Security-Policy that allows no inline script or
style (the pages' scripts and stylesheet are static files, dialer/web/static, so markup that
slipped past escaping still cannot run; ``'self'`` also covers the console's own websockets) and
no framing, ``nosniff``, a same-origin referrer, and a ``Server`` header without versions.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web, web_response
from aiohttp.typedefs import Handler

from dialer.domain.access.policy import Action
from dialer.domain.pbx.site import browser_phones
from dialer.i18n import LANGUAGES
from dialer.lab.layout import LAB_HOST
from dialer.logs import get_logger
from dialer.settings import Settings, WebSettings
from dialer.web import dealers
from dialer.web.errors import WebError
from dialer.web.html import render, t
from dialer.web.keys import AUTH, CSRF, LANG, ROUTES, SESSION, SETTINGS
from dialer.web.routing import Access, Open

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
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",  # a recording or upload is never run as script or page
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",  # a lead's URL (its id) does not leave the console
    "Server": "dcc-dialer",  # no Python or aiohttp version for a scanner to match
}
# The routes that take a file: their larger body limit applies only once the role check has passed.
UPLOAD_ACTIONS = frozenset({Action.LEAD_IMPORT})
_FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data"})
_KB = 1024
_MB = 1024 * 1024


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


def hide_server_version() -> None:
    """Name the server ``dcc-dialer`` also on the answers aiohttp's protocol writes by itself.

    A request line or header aiohttp cannot parse (``GARBAGE``, a 9 KB URL) is answered 400 before any
    application code runs: no middleware, no ``on_response_prepare``, so :func:`security_headers` never
    sees it, and aiohttp fills in ``Server: Python/3.x aiohttp/3.y`` from a module constant it has no
    setting for. Replacing that constant is the one way to keep the versions from a scanner; it is
    read each time a response is prepared, so setting it once at start-up covers every later answer.
    """
    web_response.SERVER_SOFTWARE = SECURITY_HEADERS["Server"]  # type: ignore[attr-defined]  # not exported, but read here


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the module docstring's headers on every answer, whoever made it."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    settings = request.app.get(SETTINGS)
    if settings is not None:
        response.headers["Content-Security-Policy"] = content_security_policy(settings)


def content_security_policy(settings: Settings) -> str:
    """The policy; with browser phones (views_browser_phone) the pages may also connect to Asterisk's
    WebSocket, another origin (its own port), and to nothing else."""
    server = browser_phones(settings, LAB_HOST).server
    if server is None:
        return CONTENT_SECURITY_POLICY
    return f"{CONTENT_SECURITY_POLICY}; connect-src 'self' {server.origin}"


def body_limit(settings: WebSettings, access: Access) -> int:
    """How many bytes of body a route takes: an upload's limit for the upload routes (reached only
    after the role check), the small form limit for everything else (the application's default)."""
    return settings.upload_max_mb * _MB if access in UPLOAD_ACTIONS else settings.form_max_kb * _KB


async def _submitted_token(request: web.Request) -> str:
    """The CSRF token the request carries; a form is parsed here (aiohttp caches it for the handler)."""
    form = await request.post() if request.content_type in _FORM_TYPES else None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    value = form.get(CSRF_FIELD) if form is not None else None
    return value if isinstance(value, str) else ""


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """See the module docstring; every route goes through here."""
    try:
        return await _gate(request, handler)
    except web.HTTPRequestEntityTooLarge as exc:  # a body (chunked, or read by a handler) past its limit
        return error_response(request, 413, "too_large", exc.text or "")


async def _gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session, language, role and CSRF checks, then the handler (the order the module docstring gives)."""
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

    if spec.access is not Open.PUBLIC:
        if session is None:
            if wants_json(request) or request.method != "GET":
                return error_response(request, 401, "login_required")
            raise web.HTTPFound(f"/login?next={request.path_qs}" if request.path != "/" else "/login")
        if session.user.role not in spec.allowed_roles():
            log.warning("web.forbidden", path=request.path, user=session.user.name, role=session.user.role.value)
            return error_response(request, 403, "forbidden")
        try:
            await dealers.decide(request, session.user)
        except WebError as exc:
            return error_response(request, exc.status, exc.code, exc.message, getattr(exc, "fields", None))

    if request.method not in _SAFE_METHODS:
        limit = body_limit(settings.web, spec.access)
        if request.content_length is not None and request.content_length > limit:
            log.warning("web.body_too_large", path=request.path, length=request.content_length, limit=limit)
            return error_response(request, 413, "too_large", f"the body may have at most {limit} bytes")
        if spec.access in UPLOAD_ACTIONS:  # the application's default is the small limit
            request = request.clone(client_max_size=limit)
        expected = session.csrf if session else anon_csrf
        try:  # without a token to match (no session, no double-submit cookie) the body is not even read
            submitted = await _submitted_token(request) if expected else ""
        except (ValueError, LookupError) as exc:  # no multipart boundary, an unknown charset, bad bytes
            reason = f"not a readable form ({str(exc)[:80]})"
            return error_response(request, 400, "invalid", f"body: {reason}", {"body": reason})
        # compare_digest takes ASCII strings only; a token we issued is always ASCII.
        if not expected or not submitted.isascii() or not hmac.compare_digest(expected, submitted):
            log.warning("web.csrf_refused", path=request.path, method=request.method, logged_in=session is not None)
            return error_response(request, 403, "csrf", "CSRF token missing or wrong")

    try:
        response = await handler(request)
    except WebError as exc:
        response = error_response(request, exc.status, exc.code, exc.message, getattr(exc, "fields", None))
    if session is None and not anon_csrf and not response.prepared:
        response.set_cookie(
            CSRF_COOKIE, request[CSRF], httponly=True, samesite="Strict", secure=settings.web.cookie_secure, path="/"
        )
    return response
