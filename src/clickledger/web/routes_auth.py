"""Sign-in, sign-out, the start page and the static files (CSS and the copy button)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clickledger.web import auth
from clickledger.web.guard import current, home_of, runtime_of, see_other
from clickledger.web.render import STATIC_DIR, render

router = APIRouter(include_in_schema=False)

STATIC_TYPES = {"app.css": "text/css; charset=utf-8", "copy.js": "text/javascript; charset=utf-8"}
MAX_FIELD_CHARS = 400


def _secure(request: Request) -> bool:
    return runtime_of(request).settings.public_base_url.startswith("https://")


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirect)."""
    if target and target.startswith(("/portal", "/console")) and "//" not in target \
            and "\\" not in target:
        return target
    return None


def _login_page(request: Request, error: str | None, status: int = 200,
                next_url: str | None = None) -> Response:
    cookie, raw = auth.LoginTokens(runtime_of(request).settings.secret_key).issue()
    html = render("login.html", session=None, area="", csrf_token=raw, error=error,
                  next_url=_safe_next(next_url) or "")
    response = HTMLResponse(html, status_code=status)
    response.set_cookie(auth.LOGIN_CSRF_COOKIE, cookie, httponly=True, samesite="lax",
                        secure=_secure(request), max_age=auth.LOGIN_TOKEN_MAX_AGE_S,
                        path="/login")
    return response


@router.get("/")
def start(request: Request) -> Response:
    session = current(request)
    return see_other(home_of(session) if session else "/login")


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    session = current(request)
    if session is not None:
        return see_other(_safe_next(next) or home_of(session))
    return _login_page(request, None, next_url=next)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=MAX_FIELD_CHARS)] = "",
    password: Annotated[str, Form(max_length=MAX_FIELD_CHARS)] = "",
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_CHARS)] = "",
    next_url: Annotated[str, Form(max_length=MAX_FIELD_CHARS)] = "",
) -> Response:
    runtime = runtime_of(request)
    tokens = auth.LoginTokens(runtime.settings.secret_key)
    if not tokens.check(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(request, "The form expired; please sign in again.", 403, next_url)
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        user_id = auth.check_password(conn, email, password)
        token = auth.start_session(conn, user_id, now) if user_id else None
    if token is None:
        return _login_page(request, "Wrong email or password.", 401, next_url)
    with runtime.engine.connect() as conn:
        session = auth.load_session(conn, token, now)
    target = _safe_next(next_url) or (home_of(session) if session else "/login")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(auth.SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=_secure(request), max_age=auth.SESSION_HOURS * 3600, path="/")
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    request: Request,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_CHARS)] = "",
) -> Response:
    session = current(request)
    if session is not None and not auth.same_token(session.csrf_token, csrf_token):
        return HTMLResponse(render("message.html", session=session, area="",
                                   title="Form expired", message="Reload and try again."),
                            status_code=403)
    runtime = runtime_of(request)
    with runtime.engine.begin() as conn:
        auth.end_session(conn, request.cookies.get(auth.SESSION_COOKIE), runtime.clock.now())
    response = see_other("/login")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    media_type = STATIC_TYPES.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body = (STATIC_DIR / name).read_bytes()
    return Response(body, media_type=media_type,
                    headers={"Cache-Control": "public, max-age=3600"})
