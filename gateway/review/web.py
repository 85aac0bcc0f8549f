"""The review pages' plumbing: rendering, security headers, sign-in state, authorization.

Every page view is authorized with the admin API's policy decision (``gateway.authz``,
action ``audit.read``) for the signed-in principal, so a policy change (someone leaves
the auditor groups) takes effect on their next click; and every view is itself recorded
in the audit log as ``admin_access``, as the admin API's calls are.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from gateway.audit.records import AdminAccessRecord
from gateway.identity import Principal
from gateway.policy import Decision
from gateway.review.sessions import Session, SessionStore
from gateway.services import Services

if TYPE_CHECKING:
    import jinja2

PREFIX = "/admin/review"
COOKIE = "gw_review"
TEMPLATES = Path(__file__).parent / "templates"
# No script, no inline style, no framing, forms post only here, nothing sent elsewhere.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "cache-control": "no-store",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


class Review:
    """What the review pages share: created with the app, never at import time."""

    def __init__(self) -> None:
        self._store: SessionStore | None = None

    @functools.cached_property
    def templates(self) -> jinja2.Environment:
        """Built on the first page served: jinja2 is no part of the gateway's start-up."""
        import jinja2

        return jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.ChainableUndefined,  # records differ by kind and version
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def sessions(self, services: Services) -> SessionStore:
        """The session store over the running lifespan's Elasticsearch client."""
        store = self._store
        if store is None or store.client is not services.index.client:
            store = self._store = SessionStore(
                services.index.client, services.settings.index_prefix
            )
        return store


def page(
    review: Review,
    template: str,
    *,
    status: int = 200,
    session: Session | None = None,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    html = review.templates.get_template(template).render(prefix=PREFIX, session=session, **context)
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=SECURITY_HEADERS,
        cookies=cookies or [],
    )


def session_cookie(request: Request[Any, Any, Any], value: str) -> Cookie:
    """HttpOnly, SameSite=Strict, this path only, no Expires (dies with the browser
    session; never a persistent cookie), Secure whenever the page came over HTTPS."""
    return Cookie(
        key=COOKIE,
        value=value,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def cleared_cookie(request: Request[Any, Any, Any]) -> Cookie:
    return dataclasses.replace(session_cookie(request, ""), max_age=0, expires=0)


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """A form post from this site. Browsers send Sec-Fetch-Site and, on POST, Origin
    (``null`` under some referrer policies); a request with neither is no browser's
    cross-site post."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    return origin == f"{request.url.scheme}://{request.url.netloc}"


async def record_access(
    services: Services,
    request: Request[Any, Any, Any],
    principal: Principal,
    decision: Decision,
    what: str,
) -> None:
    """The admin API's ``admin_access`` record, for a review page view."""
    record: AdminAccessRecord = {
        "request_id": str(request.state.request_id),
        "endpoint": "audit.read",
        "subject": principal.subject,
        "groups": list(principal.groups),
        "what": f"review: {what}",
        "allowed": decision.allow,
        "policy_decision_ids": [decision.decision_id] if decision.decision_id else [],
    }
    await services.audit.append("admin_access", dict(record))


async def auditor(
    request: Request[Any, Any, Any], services: Services, review: Review, what: str
) -> Session | Response[str]:
    """The signed-in, still-authorized session, or the page to show instead."""
    cookie = request.cookies.get(COOKIE)
    sessions = review.sessions(services)
    session = await sessions.get(cookie)
    if session is None:
        notice = "Your session has ended; sign in again." if cookie else None
        return page(
            review,
            "sign_in.html",
            status=401,
            notice=notice,
            cookies=[cleared_cookie(request)] if cookie else None,
        )
    decision = await services.policy.authorize(session.principal, "audit.read")
    await record_access(services, request, session.principal, decision, what)
    if not decision.allow:
        await sessions.end(cookie)
        return page(
            review,
            "error.html",
            status=403,
            title="Not an auditor",
            message="Policy no longer lets you read the audit trail: "
            + "; ".join(decision.reasons),
            cookies=[cleared_cookie(request)],
        )
    return session
