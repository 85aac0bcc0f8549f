"""Open Policy Agent adapter: decisions from the Rego packages under ``policies/``.

Every failure (OPA down, timeout, policy not loaded, a result of the wrong shape) becomes
DependencyUnavailable: the gateway fails closed, never open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
import httpx
from opa_client import AsyncOpaClient
from opa_client.errors import QueryExecuteError

from gateway.errors import DependencyUnavailable, PolicyUntranslatable
from gateway.hashing import canonical_json, sha256_hex
from gateway.identity import Principal
from gateway.redaction.rules import InvalidRules, RedactionRules

AUTHZ_PACKAGE = "gateway.authz"
RETRIEVAL_PACKAGE = "gateway.retrieval"
REDACTION_PACKAGE = "gateway.redaction"
FINETUNE_PACKAGE = "gateway.finetune"
# OPA 1.x data-filter compile: a UCAST condition tree instead of Rego AST.
UCAST_MEDIA_TYPE = "application/vnd.opa.ucast.all+json"
_OPA_ERRORS = (aiohttp.ClientError, TimeoutError, QueryExecuteError)
_PACKAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class FinetuneDecision:
    allow: bool
    reasons: tuple[str, ...]
    violations: tuple[dict[str, Any], ...]
    """Structured refusals: ``{"kind": "overlap", "doc_id", "corpus", "classification",
    "lines", "max_score"}`` or ``{"kind": "pii", "type", "count", "lines"}``."""
    decision_id: str | None


@dataclass(frozen=True)
class Decision:
    allow: bool
    reasons: tuple[str, ...]
    decision_id: str | None
    retrieval_enabled: bool = False
    corpora: tuple[str, ...] | None = None
    context_window: int = 8192
    model_offered: bool = True
    cached: bool = False
    """Served from the gateway's decision cache (same input and policy revision)."""


class PolicyEngine:
    """Asks OPA; opened and closed by the app lifespan."""

    def __init__(self, url: str, timeout_s: float) -> None:
        parts = urlsplit(url)
        self._client = AsyncOpaClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            timeout=timeout_s,
            retries=1,
        )
        # opa-python-client only speaks the old /v1/compile; the data-filter endpoint and
        # the revision probe go over httpx.
        self._http = httpx.AsyncClient(base_url=url, timeout=timeout_s)

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.__aexit__(*exc_info)
        await self._http.aclose()

    async def healthy(self) -> bool:
        """OPA is up and has activated its policies."""
        return bool(await self._client.check_health())

    async def query(self, package: str, rule: str, input_data: dict[str, Any]) -> dict[str, Any]:
        """Evaluate ``data.<package>.<rule>``; the raw response (result, decision_id)."""
        try:
            response: dict[str, Any] = await self._client.query_rule(
                input_data, package_path=package, rule_name=rule
            )
        except _OPA_ERRORS as exc:
            raise DependencyUnavailable("opa", f"cannot evaluate {package}.{rule}") from exc
        if "result" not in response:
            raise DependencyUnavailable("opa", f"policy {package}.{rule} is not loaded")
        return response

    async def authorize(
        self, principal: Principal, action: str, model: str | None = None
    ) -> Decision:
        input_data: dict[str, Any] = {"subject": principal.as_policy_input(), "action": action}
        if model is not None:
            input_data["model"] = model
        response = await self.query(AUTHZ_PACKAGE, "decision", input_data)
        return parse_authz_decision(response)

    async def finetune(
        self, principal: Principal, action: str, facts: dict[str, Any]
    ) -> FinetuneDecision:
        """``gateway.finetune.decision`` for a files / fine-tuning call and its scan facts."""
        input_data = {"subject": principal.as_policy_input(), "action": action, **facts}
        response = await self.query(FINETUNE_PACKAGE, "decision", input_data)
        result = response["result"]
        if (
            not isinstance(result, dict)
            or not isinstance(result.get("allow"), bool)
            or not isinstance(result.get("violations", []), list)
        ):
            raise DependencyUnavailable("opa", f"{FINETUNE_PACKAGE}.decision has the wrong shape")
        return FinetuneDecision(
            allow=result["allow"],
            reasons=tuple(sorted(str(r) for r in result.get("reasons") or ())),
            violations=tuple(v for v in result.get("violations") or () if isinstance(v, dict)),
            decision_id=response.get("decision_id"),
        )

    async def allowed_models(self, principal: Principal) -> list[str]:
        """``gateway.authz.models``: what GET /v1/models lists for this caller."""
        input_data = {"subject": principal.as_policy_input(), "action": "models.list"}
        response = await self.query(AUTHZ_PACKAGE, "models", input_data)
        return sorted(str(model) for model in response["result"])

    async def redaction_rules(
        self, principal: Principal, contexts: list[dict[str, Any]]
    ) -> list[RedactionRules]:
        """``gateway.redaction.decision`` for each (source, classification), one round trip."""
        if not contexts:
            return []
        subject = principal.as_policy_input()
        inputs = [{"subject": subject, **context} for context in contexts]
        try:
            results = await self._client.bulk_query_rule(
                inputs, package_path=REDACTION_PACKAGE, rule_name="decision"
            )
        except _OPA_ERRORS as exc:
            raise DependencyUnavailable("opa", "cannot evaluate gateway.redaction") from exc
        try:
            return [RedactionRules.from_decision(result) for result in results]
        except InvalidRules as exc:
            raise DependencyUnavailable("opa", f"gateway.redaction: {exc}") from exc

    async def compile_filter(self, package: str, rule: str, input_data: dict[str, Any]) -> Any:
        """Partially evaluate a rule with its declared unknowns; OPA's UCAST response body.

        OPA itself refuses Rego outside the data-filter fragment (HTTP 400): that is a
        policy the gateway cannot enforce, so it becomes PolicyUntranslatable.
        """
        path = f"/v1/compile/{package.replace('.', '/')}/{rule}"
        try:
            response = await self._http.post(
                path, json={"input": input_data}, headers={"Accept": UCAST_MEDIA_TYPE}
            )
        except httpx.HTTPError as exc:
            raise DependencyUnavailable("opa", f"cannot compile {package}.{rule}") from exc
        if response.status_code == 400:
            raise PolicyUntranslatable(
                f"OPA cannot compile {package}.{rule} into a filter: {_opa_errors(response)}"
            )
        if response.status_code != 200:
            raise DependencyUnavailable("opa", f"compile {package}.{rule}: {response.status_code}")
        return response.json()

    async def allow_documents(
        self,
        principal: Principal,
        documents: list[dict[str, Any]],
        package: str = RETRIEVAL_PACKAGE,
    ) -> list[bool]:
        """Full evaluation of ``allow_document`` for each document, in one OPA round trip.

        The documents travel as the query's JSON input, not inlined into the query text
        (as opa-python-client's bulk_query_rule does): OPA then parses JSON instead of
        Rego literals, which matters for documents shared with thousands of names.
        """
        if not documents:
            return []
        if not _PACKAGE.match(package):
            raise ValueError(f"invalid package {package!r}")
        query = (
            "verdicts := [verdict | some document in input.documents; "
            f"verdict := data.{package}.allow_document with input.document as document]"
        )
        input_data = {"subject": principal.as_policy_input(), "documents": documents}
        try:
            response = await self._client.ad_hoc_query(query, input_data)
        except _OPA_ERRORS as exc:
            raise DependencyUnavailable("opa", "cannot re-check retrieved documents") from exc
        rows = response.get("result") if isinstance(response, dict) else None
        verdicts = rows[0].get("verdicts") if isinstance(rows, list) and rows else None
        if not isinstance(verdicts, list) or len(verdicts) != len(documents):
            # An undefined allow_document would shorten the list: never guess which.
            raise DependencyUnavailable("opa", f"{package}.allow_document is not defined")
        return [verdict is True for verdict in verdicts]

    async def why_not(self, principal: Principal, document: dict[str, Any]) -> list[str]:
        """The retrieval policy's explanations for denying one document."""
        input_data = {"subject": principal.as_policy_input(), "document": document}
        response = await self.query(RETRIEVAL_PACKAGE, "why_not", input_data)
        return sorted(str(reason) for reason in response["result"])

    async def revision(self) -> str:
        """A digest of every loaded policy module and of data.gateway.config.

        OPA serving a watched directory has no bundle revision, so the gateway derives one:
        it changes exactly when a policy or its data changes.
        """
        try:
            policies = await self._http.get("/v1/policies")
            config = await self._http.get("/v1/data/gateway/config")
        except httpx.HTTPError as exc:
            raise DependencyUnavailable("opa", "cannot read the policy revision") from exc
        if policies.status_code != 200 or config.status_code != 200:
            raise DependencyUnavailable("opa", "cannot read the policy revision")
        try:
            modules = sorted((m["id"], m["raw"]) for m in policies.json().get("result", []))
            material = canonical_json([modules, config.json().get("result")])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DependencyUnavailable("opa", "unexpected policy listing") from exc
        return sha256_hex(material)[:16]


def _opa_errors(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    errors = body.get("errors") or []
    details = "; ".join(
        f"{e.get('message')} ({e.get('location', {}).get('file', '?')}:"
        f"{e.get('location', {}).get('row', '?')})"
        for e in errors
    )
    return details or str(body.get("message", f"HTTP {response.status_code}"))


def parse_authz_decision(response: dict[str, Any]) -> Decision:
    """Validate ``gateway.authz.decision``; any other shape fails closed."""
    result = response["result"]
    if not isinstance(result, dict) or not isinstance(result.get("allow"), bool):
        raise DependencyUnavailable("opa", f"{AUTHZ_PACKAGE}.decision has the wrong shape")
    reasons = tuple(sorted(str(r) for r in result.get("reasons") or ()))
    retrieval = result.get("retrieval") or {}
    corpora = retrieval.get("corpora") if isinstance(retrieval, dict) else None
    if not isinstance(retrieval, dict) or not (
        corpora is None or (isinstance(corpora, list) and all(isinstance(c, str) for c in corpora))
    ):
        # A malformed restriction must never read as "all corpora".
        raise DependencyUnavailable(
            "opa", f"{AUTHZ_PACKAGE}.decision retrieval has the wrong shape"
        )
    window = result.get("context_window")
    return Decision(
        allow=result["allow"],
        reasons=reasons,
        decision_id=response.get("decision_id"),
        retrieval_enabled=retrieval.get("enabled") is True,
        corpora=tuple(str(c) for c in corpora) if isinstance(corpora, list) else None,
        context_window=window if isinstance(window, int) and window > 0 else 8192,
        model_offered=result.get("model_offered") is not False,
    )
