"""The upstream chat body: the caller's messages, our context first, our options gone."""

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pipeline.chat import compose_chat

_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool"]), "content": st.text()}
)
_METADATA = st.dictionaries(
    st.sampled_from(["team", "gateway_corpora", "gateway_retrieval", "trace"]), st.text()
)


@settings(max_examples=100, deadline=None)
@given(
    messages=st.lists(_MESSAGE, min_size=1, max_size=6),
    metadata=st.one_of(st.none(), _METADATA),
    context=st.one_of(st.none(), st.just({"role": "system", "content": "<document ..."})),
)
def test_context_goes_first_and_nothing_of_the_callers_is_lost_or_reordered(
    messages: list[dict[str, Any]],
    metadata: dict[str, str] | None,
    context: dict[str, str] | None,
) -> None:
    """Upstream gets [context?, *messages] in order, and every field but gateway_* options."""
    body: dict[str, Any] = {"model": "m", "messages": messages, "temperature": 0.2}
    if metadata is not None:
        body["metadata"] = metadata
    sent = compose_chat(copy.deepcopy(body), context)
    assert sent["messages"] == ([context] if context else []) + messages
    assert (sent["model"], sent["temperature"]) == ("m", 0.2)
    kept = {k: v for k, v in (metadata or {}).items() if not k.startswith("gateway_")}
    assert sent.get("metadata") == (kept or None)
