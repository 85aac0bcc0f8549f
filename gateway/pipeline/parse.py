"""What every endpoint's parse stage shares: the gateway's own per-request switches
and the facts noted for a record written on refusal.

Header ``x-gateway-retrieval: on|off`` or ``metadata.gateway_retrieval``; header
``x-gateway-corpora: a,b`` or ``metadata.gateway_corpora`` (a string or an array) to
narrow retrieval. ``metadata.gateway_*`` keys are removed before the body goes upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.chat_request import parse_corpora
from gateway.context import OPTION_PREFIX
from gateway.errors import BadRequest
from gateway.request_scope import current_request


@dataclass(frozen=True)
class Options:
    retrieval: bool = True
    corpora: tuple[str, ...] | None = None


def gateway_options(headers: Mapping[str, str], body: Mapping[str, Any]) -> Options:
    metadata = body.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    switch = headers.get("x-gateway-retrieval") or metadata.get("gateway_retrieval")
    if switch not in (None, "on", "off"):
        raise BadRequest(
            "gateway_retrieval must be 'on' or 'off'.", param="metadata", code="invalid_value"
        )
    header = headers.get("x-gateway-corpora")
    corpora = (
        parse_corpora(header, "x-gateway-corpora")
        if header
        else parse_corpora(metadata.get("gateway_corpora"), "metadata.gateway_corpora")
    )
    return Options(switch != "off", tuple(corpora) if corpora is not None else None)


def without_options(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the gateway's own ``metadata.gateway_*`` keys (and without a
    ``metadata`` left empty by their removal)."""
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        return body
    body = dict(body)
    kept = {k: v for k, v in metadata.items() if not k.startswith(OPTION_PREFIX)}
    if kept:
        body["metadata"] = kept
    else:
        body.pop("metadata")
    return body


def note_facts(**facts: Any) -> None:
    """What is known of the call so far (model, stream), for the record the middleware
    writes if anything refuses it before the pipeline's own record."""
    scope = current_request()
    if scope is not None:
        scope.facts.update(facts)
