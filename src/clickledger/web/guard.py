"""Who may open a page: the session behind the cookie, the area's roles, CSRF on writes.

Affiliates use ``/portal``, managers and finance ``/console``; a page of the
other area, or an object the person may not see, answers the same 404 page as
something absent.  Without a session a page redirects to ``/login``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clickledger.domain.roles import Role
from clickledger.runtime import Runtime
from clickledger.services.errors import ServiceError
from clickledger.web import auth
from clickledger.web.render import render

AREAS: dict[str, tuple[Role, ...]] = {
    "portal": (Role.AFFILIATE,),
    "console": (Role.MANAGER, Role.FINANCE),
}
Build = Callable[[auth.Session, sa.Connection], Response]


class Hidden(Exception):
    """The page or object does not exist for this person: answered 404."""


class Invalid(Exception):
    """A form that cannot be accepted: the message is shown to the person."""


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def not_found_page(session: auth.Session | None) -> HTMLResponse:
    return HTMLResponse(render("not_found.html", session=session, area=_area_of(session)),
                        status_code=404)


def _area_of(session: auth.Session | None) -> str:
    if session is None:
        return ""
    return "portal" if session.principal.role is Role.AFFILIATE else "console"


def home_of(session: auth.Session) -> str:
    return f"/{_area_of(session)}"


def current(request: Request) -> auth.Session | None:
    runtime = runtime_of(request)
    with runtime.engine.connect() as conn:
        return auth.load_session(conn, request.cookies.get(auth.SESSION_COOKIE),
                                 runtime.clock.now())


def page(request: Request, area: str, build: Build, *, reports: bool = False) -> Response:
    """Run ``build`` for a signed-in person of ``area`` in one read transaction (``reports``:
    on the reports replica when one is configured, ``Runtime.report_connection``)."""
    session = current(request)
    if session is None:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)
    if session.principal.role not in AREAS[area]:
        return not_found_page(session)
    runtime = runtime_of(request)
    try:
        with runtime.report_connection() if reports else runtime.engine.begin() as conn:
            return build(session, conn)
    except Hidden:
        return not_found_page(session)
    except ServiceError as exc:
        if exc.kind == "not_found":
            return not_found_page(session)
        raise


def action(request: Request, area: str, csrf_token: str | None, build: Build,
           roles: tuple[Role, ...] | None = None) -> Response:
    """A form post: CSRF-checked, role-checked, in one transaction; errors re-show as text."""
    session = current(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    if not auth.same_token(session.csrf_token, csrf_token):
        return HTMLResponse(render("message.html", session=session, area=_area_of(session),
                                   title="Form expired",
                                   message="The form was stale or forged; nothing was changed. "
                                           "Reload the page and try again."),
                            status_code=403)
    allowed = roles or AREAS[area]
    if session.principal.role not in AREAS[area] or session.principal.role not in allowed:
        return not_found_page(session)
    runtime = runtime_of(request)
    try:
        with runtime.engine.begin() as conn:
            return build(session, conn)
    except Hidden:
        return not_found_page(session)
    except ServiceError as exc:
        if exc.kind == "not_found":
            return not_found_page(session)
        return _not_done(session, exc.message)
    except (Invalid, ValueError) as exc:
        return _not_done(session, str(exc))


def _not_done(session: auth.Session, message: str) -> HTMLResponse:
    return HTMLResponse(render("message.html", session=session, area=_area_of(session),
                               title="Not done", message=message), status_code=422)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
