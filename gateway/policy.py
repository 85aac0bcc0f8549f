"""Open Policy Agent adapter: decisions from the Rego packages under ``policies/``.

Every failure (OPA down, timeout, policy not loaded, a result of the wrong shape) becomes
DependencyUnavailable: the gateway fails closed, never open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from opa_client import AsyncOpaClient

from gateway.errors import DependencyUnavailable
from gateway.identity import Principal

AUTHZ_PACKAGE = "gateway.authz"


@dataclass(frozen=True)
class Decision:
    allow: bool
    reasons: tuple[str, ...]
    decision_id: str | None


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

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.__aexit__(*exc_info)

    async def healthy(self) -> bool:
        """OPA is up and has activated its policies."""
        return bool(await self._client.check_health())

    async def query(self, package: str, rule: str, input_data: dict[str, Any]) -> dict[str, Any]:
        """Evaluate ``data.<package>.<rule>``; the raw response (result, decision_id)."""
        try:
            response: dict[str, Any] = await self._client.query_rule(
                input_data, package_path=package, rule_name=rule
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
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
        result = response["result"]
        if not isinstance(result, dict) or not isinstance(result.get("allow"), bool):
            raise DependencyUnavailable("opa", f"{AUTHZ_PACKAGE}.decision has the wrong shape")
        reasons = tuple(sorted(str(r) for r in result.get("reasons") or ()))
        return Decision(result["allow"], reasons, response.get("decision_id"))
