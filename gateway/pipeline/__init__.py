"""One governed pipeline for every model endpoint (chat, embeddings, Responses).

    identify   HTTP layer: ``authenticate`` -> ``Caller(principal, request_id)``
    parse      per endpoint: raw body + headers -> ``ModelCall`` (400 on bad input)
    authorize  OPA ``gateway.authz`` for (principal, endpoint action, model)
               -> ``Authorized``; a denial is audited, then raised (404/403)
    admit      per-caller limits (429)
    files      file ids the body names -> the upstream's (404 if not the caller's)
    prepare    retrieve / redact / compose -> ``Prepared``: the exact upstream bytes,
               the chunks and redactions that went in, the placeholders to restore
    audit      request record, durable -> ``Audited`` (the only thing ``forward`` takes)
    forward    the one upstream client -> ``Forwarded``
    complete   outcome record, usage, restoration -> ``Answer`` | ``StreamAnswer``
    render     HTTP layer: ``gateway.http.model_calls.render``

The contract for a new endpoint: write its parse (returning a ``ModelCall``) and an
``Endpoint`` (its policy action, upstream path, where retrieved context goes in
``compose``, how to count the prompt's tokens, and optionally how to summarize and
restore its answers), then ``run(ports, caller, call, timer)`` and render the result.
Everything between is shared and must not be re-implemented: no endpoint sends a byte
upstream that was not redacted and recorded by these stages. Every value handed between
stages is a frozen dataclass (``gateway.pipeline.values``); each stage is an async
function of ``Ports`` (narrow interfaces, ``gateway.pipeline.ports``) and the previous
value, so unit tests drive a stage with fakes. A policy action for the new endpoint
goes into ``policies/authz.rego`` (``model_actions``), with an ``opa test``.

Redaction covers every string of the caller's body (``gateway.pii.walker``), so an
endpoint's new fields are analysed by default. Restoration applies only when the
``Endpoint`` says how (``restore_body`` / ``restore_stream``) and policy allows it for
every source that made a placeholder.
"""

from gateway.pipeline.parse import Options, gateway_options, note_facts, without_options
from gateway.pipeline.ports import Ports
from gateway.pipeline.run import run
from gateway.pipeline.values import (
    Answer,
    Audited,
    Authorized,
    Caller,
    Endpoint,
    Forwarded,
    ModelCall,
    Prepared,
    StreamAnswer,
)

__all__ = [
    "Answer",
    "Audited",
    "Authorized",
    "Caller",
    "Endpoint",
    "Forwarded",
    "ModelCall",
    "Options",
    "Ports",
    "Prepared",
    "StreamAnswer",
    "gateway_options",
    "note_facts",
    "run",
    "without_options",
]
