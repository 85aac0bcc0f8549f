import pytest

from gateway.errors import DependencyUnavailable
from gateway.identity import Principal
from gateway.policy import PolicyEngine

from .conftest import closed_port_url

pytestmark = pytest.mark.integration

BOB = Principal("bob", ("sales",))
ALICE = Principal("alice", ("engineering",))


async def test_real_opa_allows_open_model(stack_env: dict[str, str]) -> None:
    """policies/authz.rego, served by the real OPA, lets anyone use the open model."""
    async with PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy:
        decision = await policy.authorize(BOB, "chat.completions", "gpt-4o-mini")
    assert decision.allow
    assert decision.reasons == ()
    assert decision.decision_id  # decision logging is on


async def test_real_opa_denies_with_reason(stack_env: dict[str, str]) -> None:
    """A group-restricted model is denied to outsiders, with the policy's reason."""
    async with PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy:
        denied = await policy.authorize(BOB, "chat.completions", "gpt-4o")
        allowed = await policy.authorize(ALICE, "chat.completions", "gpt-4o")
    assert not denied.allow
    assert denied.reasons == ('subject "bob" may not use model "gpt-4o"',)
    assert allowed.allow


async def test_missing_policy_fails_closed(stack_env: dict[str, str]) -> None:
    """Asking for a rule OPA has not loaded is an error, never an allow."""
    async with PolicyEngine(stack_env["GATEWAY_OPA_URL"], 2.0) as policy:
        with pytest.raises(DependencyUnavailable, match="not loaded"):
            await policy.query("gateway.does_not_exist", "allow", {})


async def test_unreachable_opa_fails_closed(stack_env: dict[str, str]) -> None:
    """A stopped OPA is DependencyUnavailable naming opa."""
    async with PolicyEngine(closed_port_url(), 0.5) as policy:
        assert not await policy.healthy()
        with pytest.raises(DependencyUnavailable, match=r"^opa unavailable"):
            await policy.authorize(BOB, "chat.completions", "gpt-4o-mini")
