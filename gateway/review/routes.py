"""The review pages: sign-in, overview, request search, one request, a document's
exposure, chain status. Read-only except signing in and out (both same-origin form posts;
sign-out also carries the session's form token)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect

from gateway.errors import AuthenticationFailed, GatewayError
from gateway.review.charts import bar_chart
from gateway.review.data import (
    RequestQuery,
    chain_status,
    daily_counts,
    document_exposure,
    outcome_of,
    redaction_types,
    request_detail,
    search_requests,
)
from gateway.review.sessions import csrf_matches
from gateway.review.web import (
    COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    TEMPLATES,
    Review,
    auditor,
    cleared_cookie,
    page,
    record_access,
    same_origin,
    session_cookie,
)
from gateway.services import Services

Html = Response[str]
_OUTCOMES = ("any", "allowed", "denied", "refused")


@get("/")
async def home(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html:
    session = await auditor(request, services, review, "overview")
    if isinstance(session, Response):
        return session if session.status_code != 401 else _sign_in_page(review, session)
    overview = await asyncio.to_thread(daily_counts, services.settings.audit_dir)
    labels = [d.day.isoformat() for d in overview.days]
    charts = {
        name: (title, bar_chart(f"chart-{name}", title, list(zip(labels, values, strict=True))))
        for name, title, values in (
            ("requests", "Requests per day", [d.requests for d in overview.days]),
            ("denied", "Policy denials per day", [d.denied for d in overview.days]),
            ("refused", "Refusals (fail closed) per day", [d.refused for d in overview.days]),
            ("chunks", "Chunks injected per day", [d.chunks for d in overview.days]),
        )
    }
    return page(review, "overview.html", session=session, overview=overview, charts=charts)


def _sign_in_page(review: Review, response: Html) -> Html:
    """The home page without a session is the sign-in form: 200, not an error."""
    response.status_code = 200
    return response


@post("/sign-in", status_code=303)
async def sign_in(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html | Redirect:
    """The key or token comes in the form body, is checked once, and is never stored."""
    if not same_origin(request):
        return page(
            review, "error.html", status=403, title="Refused", message="Cross-site sign-in."
        )
    form = await request.form()
    credential = str(form.get("credential") or "").strip()
    try:
        principal = services.keys.authenticate(f"Bearer {credential}")
    except AuthenticationFailed:
        return page(
            review, "sign_in.html", status=401, notice="Sign-in failed: unknown or expired key."
        )
    decision = await services.policy.authorize(principal, "audit.read")
    await record_access(services, request, principal, decision, "sign-in")
    if not decision.allow:
        return page(
            review,
            "sign_in.html",
            status=403,
            notice="Policy does not let you read the audit trail: " + "; ".join(decision.reasons),
        )
    session_id, _session = await review.sessions(services).create(principal)
    return Redirect(
        f"{PREFIX}/", status_code=303, cookies=[session_cookie(request, session_id)],
        headers=SECURITY_HEADERS,
    )  # fmt: skip


@post("/sign-out", status_code=303)
async def sign_out(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html | Redirect:
    cookie = request.cookies.get(COOKIE)
    sessions = review.sessions(services)
    session = await sessions.get(cookie)
    form = await request.form()
    if session is not None and not (
        same_origin(request) and csrf_matches(session, form.get("csrf"))
    ):
        return page(review, "error.html", status=403, title="Refused", message="Bad form token.")
    await sessions.end(cookie)
    return Redirect(
        f"{PREFIX}/", status_code=303, cookies=[cleared_cookie(request)], headers=SECURITY_HEADERS
    )


@get("/requests")
async def requests_page(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html:
    session = await auditor(request, services, review, "search")
    if isinstance(session, Response):
        return session
    params = request.query_params
    errors: list[str] = []
    query = RequestQuery(
        subject=_text(params.get("subject")),
        doc_id=_text(params.get("doc")),
        corpus=_text(params.get("corpus")),
        model=_text(params.get("model")),
        since=_day(params.get("since"), "From", errors),
        until=_day(params.get("until"), "To", errors, end_of_day=True),
        outcome=_outcome(params.get("outcome")),
        redaction=_text(params.get("redaction")),
        page=_int(params.get("page"), 1),
    )
    found = await asyncio.to_thread(search_requests, services.settings.audit_dir, query)
    form = {
        k: params.get(k, "")
        for k in ("subject", "doc", "corpus", "model", "since", "until", "redaction")
    }
    form["outcome"] = query.outcome
    keep = {k: v for k, v in form.items() if v and not (k == "outcome" and v == "any")}
    return page(
        review, "requests.html", session=session, found=found, form=form, keep=keep,
        errors=errors, outcomes=_OUTCOMES, outcome_of=outcome_of, redaction_types=redaction_types,
    )  # fmt: skip


@get("/requests/{audit_id:str}")
async def request_page(
    request: Request[Any, Any, Any],
    audit_id: FromPath[str],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html:
    session = await auditor(request, services, review, f"show {audit_id}")
    if isinstance(session, Response):
        return session
    found = await asyncio.to_thread(request_detail, services.settings.audit_dir, audit_id)
    if found is None:
        return page(
            review, "error.html", status=404, session=session, title="Not found",
            message=f"No audit record {audit_id}.",
        )  # fmt: skip
    return page(
        review, "record.html", session=session, record=found["record"],
        outcomes=found["outcomes"], outcome_of=outcome_of,
    )  # fmt: skip


@get("/documents")
async def document_lookup(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html | Redirect:
    doc_id = _text(request.query_params.get("doc"))
    if doc_id:
        return Redirect(f"{PREFIX}/documents/{_quote(doc_id)}", status_code=303)
    session = await auditor(request, services, review, "documents")
    if isinstance(session, Response):
        return session
    return page(review, "document_lookup.html", session=session)


@get("/documents/{doc_id:str}")
async def document_page(
    request: Request[Any, Any, Any],
    doc_id: FromPath[str],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html:
    session = await auditor(request, services, review, f"exposure {doc_id}")
    if isinstance(session, Response):
        return session
    found = await asyncio.to_thread(document_exposure, services.settings.audit_dir, doc_id)
    timeline = _timeline(found.per_day)
    chart = bar_chart("chart-exposure", f"Prompts holding {doc_id}, per day", timeline)
    return page(review, "document.html", session=session, exposure=found, chart=chart)


@get("/chain")
async def chain_page(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    review: NamedDependency[Review],
) -> Html:
    session = await auditor(request, services, review, "verify")
    if isinstance(session, Response):
        return session
    key = services.settings.audit_hmac_key
    report = await asyncio.to_thread(
        chain_status, services.settings.audit_dir, key.get_secret_value() if key else None
    )
    return page(review, "chain.html", session=session, report=report)


@get("/static/review.css")
async def stylesheet() -> Response[bytes]:
    css = await asyncio.to_thread((TEMPLATES.parent / "static" / "review.css").read_bytes)
    return Response(css, media_type="text/css", headers={"cache-control": "max-age=300"})


def review_router() -> Router:
    """The review pages, with their own session store (one per app)."""
    review = Review()

    def provide() -> Review:
        return review

    return Router(
        path=PREFIX,
        route_handlers=[
            home, sign_in, sign_out, requests_page, request_page, document_lookup,
            document_page, chain_page, stylesheet,
        ],
        dependencies={"review": Provide(provide, sync_to_thread=False)},
        exception_handlers={GatewayError: _gateway_error(review)},
        # A browser UI, not part of the OpenAI-compatible API: its HTML pages (and HTML
        # errors) stay out of the OpenAPI document that clients and the fuzzer read.
        include_in_schema=False,
    )  # fmt: skip


def _gateway_error(review: Review) -> Any:
    def handle(request: Request[Any, Any, Any], exc: GatewayError) -> Html:
        """OPA or the audit log unavailable: an HTML page with the same status, fail closed."""
        return page(review, "error.html", status=exc.status_code, title="Unavailable",
                    message=exc.message)  # fmt: skip

    return handle


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value or default))
    except ValueError:
        return default


def _outcome(value: str | None) -> Any:
    return value if value in _OUTCOMES else "any"


def _day(
    value: str | None, label: str, errors: list[str], *, end_of_day: bool = False
) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        errors.append(f"{label}: not a date (YYYY-MM-DD).")
        return None
    if end_of_day and len(text) == 10:  # a date: "to" includes that whole day
        moment += timedelta(days=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _timeline(per_day: list[Any]) -> list[tuple[str, int]]:
    """Every day from the first exposure to the last (zeros included), at most 90 bars."""
    if not per_day:
        return []
    counts = dict(per_day)
    first, last = per_day[0][0], per_day[-1][0]
    first = max(first, last - timedelta(days=89))
    days = (last - first).days + 1
    return [
        ((first + timedelta(n)).isoformat(), counts.get(first + timedelta(n), 0))
        for n in range(days)
    ]


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
