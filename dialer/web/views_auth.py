"""Login, logout, the language switch and "who am I"."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from aiohttp import web

from dialer.domain.auth.errors import LoginRefused
from dialer.i18n import LANGUAGES
from dialer.web.html import home_path, render, t
from dialer.web.keys import AUTH, SESSION, SETTINGS, session_of
from dialer.web.routing import Open, RouteTable
from dialer.web.security import LANG_COOKIE, SESSION_COOKIE

routes = RouteTable()

# A language cookie outlives sessions: it is a preference, not a credential.
_LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def _local_path(target: str | None, default: str) -> str:
    """Only same-site paths are followed after login or a language switch (no open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _login_page(request: web.Request, *, error: str = "", name: str = "", status: int = 200) -> web.Response:
    next_path = _local_path(request.query.get("next"), "")
    return render(
        request, "login.html", t(request, "web.login.title"), status=status, next_path=next_path, name=name, error=error
    )


@routes.route("GET", "/", Open.PUBLIC, "Home: the user's start page, or the login page")
async def home(request: web.Request) -> web.StreamResponse:
    """Send people where their role starts."""
    session = request.get(SESSION)
    raise web.HTTPFound(home_path(session.user.role) if session else "/login")


@routes.route("GET", "/login", Open.PUBLIC, "The login form")
async def login_form(request: web.Request) -> web.StreamResponse:
    """Show the login form."""
    return _login_page(request)


@routes.route("POST", "/login", Open.PUBLIC, "Check name and password, open a session")
async def login(request: web.Request) -> web.StreamResponse:
    """Log in; wrong credentials and throttling answer the same page with a message (429 when throttled)."""
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    try:
        new = await request.app[AUTH].login(name, password, request.remote or "unknown", str(form.get("code", "")))
    except LoginRefused as exc:
        if exc.retry_after_s > 0:
            wait = math.ceil(exc.retry_after_s)
            response = _login_page(
                request, error=t(request, "web.login.throttled", seconds=wait), name=name, status=429
            )
            response.headers["Retry-After"] = str(wait)
            return response
        return _login_page(request, error=t(request, "web.login.failed"), name=name, status=401)
    web_settings = request.app[SETTINGS].web
    response = web.HTTPFound(_local_path(str(form.get("next", "")), home_path(new.user.role)))
    response.set_cookie(
        SESSION_COOKIE, new.token, httponly=True, samesite="Lax", secure=web_settings.cookie_secure,
        max_age=int(web_settings.session_max_age_s), path="/",
    )  # fmt: skip
    raise response


@routes.route("POST", "/logout", Open.ANY_USER, "End the session")
async def logout(request: web.Request) -> web.StreamResponse:
    """Log out: the session row is deleted, so the cookie is dead even if a copy survives."""
    token = request.cookies.get(SESSION_COOKIE, "")
    await request.app[AUTH].logout(token)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@routes.route("POST", "/lang", Open.PUBLIC, "Switch the console language (cookie)")
async def switch_language(request: web.Request) -> web.StreamResponse:
    """Remember the chosen language in a cookie and go back to the page."""
    form = await request.post()
    lang = str(form.get("lang", ""))
    response = web.HTTPFound(_local_path(str(form.get("next", "")), "/"))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=_LANG_COOKIE_MAX_AGE_S, samesite="Lax",
                            secure=request.app[SETTINGS].web.cookie_secure, path="/")  # fmt: skip
    raise response


@routes.route("GET", "/api/me", Open.ANY_USER, "The logged-in user, role and CSRF token for API calls")
async def api_me(request: web.Request) -> web.StreamResponse:
    """Scripts read the CSRF token here and send it back as X-CSRF-Token."""
    session = session_of(request)
    user = session.user
    return web.json_response(
        {"name": user.name, "role": user.role.value, "agent": user.agent, "csrf_token": session.csrf}
    )
