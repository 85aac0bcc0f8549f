"""Open Policy Agent adapter: decisions from the Rego packages under ``policies/``.

One aiohttp session speaks OPA's REST API (data, ad hoc query, data-filter compile,
policy listing, health), and ``PolicyEngine._send`` is the one place its errors are
translated: every failure (OPA down, timeout, policy not loaded, a body that is not JSON,
a result of the wrong shape) becomes DependencyUnavailable: the gateway fails closed,
never open.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import aiohttp
import msgspec

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
# A refused connection or a 500/502/504 is tried once more after a short pause (what
# opa-python-client, used before, did with retries=1).
_ATTEMPTS = 2
_RETRY_STATUS = frozenset({500, 502, 504})
_RETRY_PAUSE_S = 0.3
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
        self._url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _send(
        self,
        what: str,
        method: str,
        path: str,
        payload: Any = None,
        headers: dict[str, str] | None = None,
        decode: Callable[[int, bytes], Any] | None = None,
    ) -> tuple[int, Any]:
        """(status, JSON body or None): the one error map of this adapter.

        Transport errors, timeouts and a success whose body is not JSON become
        ``DependencyUnavailable("opa", what)``; an error's unreadable body is None.
        ``decode`` (status, raw body) replaces the JSON parse; it raises ValueError.
        """
        if self._session is None:
            raise RuntimeError("PolicyEngine used outside its async context")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._session.request(
                    method, self._url + path, json=payload, headers=headers
                ) as response:
                    if response.status in _RETRY_STATUS and attempt < _ATTEMPTS:
                        await asyncio.sleep(_RETRY_PAUSE_S)
                        continue
                    raw = await response.read()
                    return response.status, (decode or _json_body)(response.status, raw)
            except aiohttp.ClientConnectionError as exc:
                if attempt == _ATTEMPTS:
                    raise DependencyUnavailable("opa", what) from exc
                await asyncio.sleep(_RETRY_PAUSE_S)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise DependencyUnavailable("opa", what) from exc
        raise AssertionError("unreachable")

    async def _result(self, what: str, path: str, payload: dict[str, Any]) -> Any:
        """A POST that must answer 2xx with a JSON body."""
        status, body = await self._send(what, "POST", path, payload)
        if not 200 <= status < 300 or body is None:
            raise DependencyUnavailable("opa", what)
        return body

    async def ad_hoc_query(self, query: str, input_data: Any, what: str) -> list[Any]:
        """The result rows of an ad hoc Rego query (``POST /v1/query``); ``what`` names
        the evaluation in the error if OPA cannot answer."""
        response = await self._result(what, "/v1/query", {"query": query, "input": input_data})
        rows = response.get("result") if isinstance(response, dict) else None
        return rows if isinstance(rows, list) else []

    async def healthy(self) -> bool:
        """OPA is up and has activated its policies."""
        try:
            status, _ = await self._send("health", "GET", "/health")
        except DependencyUnavailable:
            return False
        return status == 200

    async def query(self, package: str, rule: str, input_data: dict[str, Any]) -> dict[str, Any]:
        """Evaluate ``data.<package>.<rule>``; the raw response (result, decision_id)."""
        path = f"/v1/data/{package.replace('.', '/')}/{rule}"
        what = f"cannot evaluate {package}.{rule}"
        response = await self._result(what, path, {"input": input_data})
        if not isinstance(response, dict):
            raise DependencyUnavailable("opa", what)
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

    async def finetune_match_floor(self) -> Any:
        """``gateway.finetune.match_floor``, or None when the policy states none."""
        path = f"/v1/data/{FINETUNE_PACKAGE.replace('.', '/')}/match_floor"
        response = await self._result(f"cannot evaluate {FINETUNE_PACKAGE}.match_floor", path, {})
        return response.get("result") if isinstance(response, dict) else None

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
        query = (
            "results := [result | some item in input.items; "
            f"result := data.{REDACTION_PACKAGE}.decision with input as item]"
        )
        what = f"cannot evaluate {REDACTION_PACKAGE}"
        rows = await self.ad_hoc_query(query, {"items": inputs}, what)
        results = rows[0].get("results") if rows and isinstance(rows[0], dict) else None
        if not isinstance(results, list) or len(results) != len(inputs):
            # An undefined decision would shorten the list: never guess which.
            raise DependencyUnavailable("opa", what)
        try:
            return [RedactionRules.from_decision(result) for result in results]
        except InvalidRules as exc:
            raise DependencyUnavailable("opa", f"gateway.redaction: {exc}") from exc

    async def compile_filter(
        self,
        package: str,
        rule: str,
        input_data: dict[str, Any],
        *,
        unknowns: Sequence[str] | None = None,
        mask_rule: str | None = None,
    ) -> Any:
        """Partially evaluate a rule with its declared unknowns; OPA's UCAST response body.

        OPA itself refuses Rego outside the data-filter fragment (HTTP 400): that is a
        policy the gateway cannot enforce, so it becomes PolicyUntranslatable.

        ``unknowns`` and ``mask_rule`` given together spare OPA re-reading every module's
        annotations on each call (~30 ms of CPU against ~5 ms); the caller must pass what
        the policy declares (``declared_unknowns``), since explicit unknowns win over them.
        """
        path = f"/v1/compile/{package.replace('.', '/')}/{rule}"
        payload: dict[str, Any] = {"input": input_data}
        if unknowns is not None:
            payload["unknowns"] = list(unknowns)
        if mask_rule is not None:
            payload["options"] = {"maskRule": mask_rule}
        status, body = await self._send(
            f"cannot compile {package}.{rule}",
            "POST",
            path,
            payload,
            headers={"Accept": UCAST_MEDIA_TYPE},
        )
        if status == 400:
            raise PolicyUntranslatable(
                f"OPA cannot compile {package}.{rule} into a filter: {_opa_errors(status, body)}"
            )
        if status != 200:
            raise DependencyUnavailable("opa", f"compile {package}.{rule}: {status}")
        return body

    async def partial_eval(
        self, query: str, input_data: dict[str, Any], unknowns: Sequence[str], what: str
    ) -> dict[str, Any]:
        """Plain partial evaluation (``POST /v1/compile``): the residual Rego AST as JSON,
        ``{"queries": [...], "support": [...]}`` (either may be absent)."""
        payload = {"query": query, "input": input_data, "unknowns": list(unknowns)}
        response = await self._result(what, "/v1/compile", payload)
        result = response.get("result") if isinstance(response, dict) else None
        if not isinstance(result, dict):
            raise DependencyUnavailable("opa", what)
        return result

    async def policy_modules(self) -> list[dict[str, Any]]:
        """The loaded modules (``GET /v1/policies``): ``id``, ``raw`` and ``ast``, whose
        ``annotations`` hold each module's METADATA."""
        what = "cannot list the policies"
        status, body = await self._send(what, "GET", "/v1/policies")
        modules = body.get("result") if status == 200 and isinstance(body, dict) else None
        if not isinstance(modules, list):
            raise DependencyUnavailable("opa", what)
        return [m for m in modules if isinstance(m, dict)]

    async def allow_documents(
        self,
        principal: Principal,
        documents: list[dict[str, Any]],
        package: str = RETRIEVAL_PACKAGE,
    ) -> list[bool]:
        """Full evaluation of ``allow_document`` for each document, in one OPA round trip.

        The documents travel as the query's JSON input, not inlined into the query text:
        OPA then parses JSON instead of Rego literals, which matters for documents shared
        with thousands of names.
        """
        if not documents:
            return []
        if not _PACKAGE.fullmatch(package):
            raise ValueError(f"invalid package {package!r}")
        query = (
            "verdicts := [verdict | some document in input.documents; "
            f"verdict := data.{package}.allow_document with input.document as document]"
        )
        input_data = {"subject": principal.as_policy_input(), "documents": documents}
        rows = await self.ad_hoc_query(query, input_data, "cannot re-check retrieved documents")
        verdicts = rows[0].get("verdicts") if rows and isinstance(rows[0], dict) else None
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
        what = "cannot read the policy revision"
        policies_status, policies = await self._send(
            what, "GET", "/v1/policies", decode=_policy_texts
        )
        config_status, config = await self._send(what, "GET", "/v1/data/gateway/config")
        if policies_status != 200 or config_status != 200:
            raise DependencyUnavailable("opa", what)
        try:
            modules = sorted((m.id, m.raw) for m in policies)
            material = canonical_json([modules, config.get("result")])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DependencyUnavailable("opa", "unexpected policy listing") from exc
        return sha256_hex(material)[:16]


class _Module(msgspec.Struct):
    id: str
    raw: str


class _PolicyListing(msgspec.Struct):
    result: list[_Module] = msgspec.field(default_factory=list)


_POLICY_LISTING = msgspec.json.Decoder(_PolicyListing)


def _policy_texts(status: int, raw: bytes) -> list[_Module] | None:
    """Each loaded module's id and text from ``GET /v1/policies``, skipping the ASTs.

    The listing is ~200 KB of JSON, mostly ASTs, polled every half second: ``json.loads``
    held the event loop 8 ms per poll, this ~0.4 ms.
    """
    if status != 200:
        return None
    try:
        return _POLICY_LISTING.decode(raw).result
    except msgspec.DecodeError as exc:
        raise ValueError(f"unexpected policy listing: {exc}") from exc


def _json_body(status: int, raw: bytes) -> Any:
    """The parsed body; None for an empty one or an error status's non-JSON one."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        if 200 <= status < 300:
            raise
        return None


def _opa_errors(status: int, body: Any) -> str:
    if not isinstance(body, dict):
        return f"HTTP {status}"
    errors = body.get("errors") or []
    details = "; ".join(
        f"{e.get('message')} ({e.get('location', {}).get('file', '?')}:"
        f"{e.get('location', {}).get('row', '?')})"
        for e in errors
    )
    return details or str(body.get("message", f"HTTP {status}"))


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
