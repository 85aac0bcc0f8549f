"""Embeddings on the pipeline: parse ``POST /v1/embeddings`` and the endpoint's spec.

``input`` is a string, an array of strings, an array of token ids or an array of such
arrays, as OpenAI accepts. Every string is analysed and redacted like a chat message
(the redaction policy's ``{"source": "message"}`` rules): an embedding of raw personal
data stored in an outside vector store is a disclosure. Token arrays (what LangChain's
``OpenAIEmbeddings`` sends by default) cannot be analysed as they are, so they are
decoded with ``cl100k_base`` (the encoding of OpenAI's embedding models, shipped in
the package: no download) and the decoded, redacted text is what goes upstream. The
upstream therefore only ever receives text the gateway analysed; a token id outside the
encoding is a 400. No retrieval, no context, no placeholder restoration (vectors carry
none). The request record holds the SHA-256 of each input text, never the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.chat_request import parse_json_object, required_model
from gateway.errors import BadRequest
from gateway.hashing import sha256_hex
from gateway.pipeline.parse import note_facts, without_options
from gateway.pipeline.values import Endpoint, ModelCall, Usage
from gateway.tokens import encoding

# OpenAI's limits: at most 2048 inputs per request; the text of one input is bounded by
# the model's 8192 tokens, and here (before any tokenizer runs) by characters.
MAX_INPUTS = 2048
MAX_INPUT_CHARS = 100_000
TOKEN_ENCODING = "cl100k_base"  # noqa: S105 - an encoding name, not a secret
ENCODING_FORMATS = ("float", "base64")


def embeddings_summary(body: bytes) -> tuple[Usage | None, str | None]:
    try:
        usage = json.loads(body).get("usage")
    except (ValueError, AttributeError):
        return None, None
    return (usage if isinstance(usage, dict) else None), None


EMBEDDINGS = Endpoint(
    action="embeddings",
    upstream_path="embeddings",
    compose=lambda body, _context: without_options(body),
    prompt_tokens=lambda _body: 0,
    summarize=embeddings_summary,
)


def parse_embeddings(raw: bytes, headers: Mapping[str, str]) -> ModelCall:
    """An embeddings body (400 for anything OpenAI would refuse) as a ModelCall, its
    token arrays decoded to text."""
    del headers  # no gateway options apply: embeddings never retrieve
    body = parse_json_object(raw)
    model = required_model(body)
    note_facts(model=model, stream=False)
    if "input" not in body:
        raise BadRequest("'input' is required.", param="input", code="missing_required_parameter")
    texts, as_list = _input_texts(body["input"])
    _check_options(body)
    body = {**body, "input": texts if as_list else texts[0]}
    return ModelCall(
        endpoint=EMBEDDINGS,
        model=model,
        body=body,
        input_sha256=tuple(sha256_hex(t) for t in texts),
    )


def _input_texts(value: Any) -> tuple[list[str], bool]:
    """The input as texts, and whether it was an array of inputs."""
    if isinstance(value, str):
        return [_text(value, "input")], False
    if not isinstance(value, list) or not value:
        raise BadRequest(
            "'input' must be a non-empty string or a non-empty array of strings or tokens.",
            param="input",
            code="invalid_type",
        )
    if all(_is_token(v) for v in value):
        return [_decode(value, "input")], False
    if len(value) > MAX_INPUTS:
        raise BadRequest(
            f"'input' holds {len(value)} items; at most {MAX_INPUTS} are accepted.",
            param="input",
            code="array_above_max_length",
        )
    texts = []
    for index, item in enumerate(value):
        param = f"input[{index}]"
        if isinstance(item, str):
            texts.append(_text(item, param))
        elif isinstance(item, list) and item and all(_is_token(v) for v in item):
            texts.append(_decode(item, param))
        else:
            raise BadRequest(
                f"'{param}' must be a non-empty string or a non-empty array of token ids; "
                "an array may not mix the two forms.",
                param=param,
                code="invalid_type",
            )
    return texts, True


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: str, param: str) -> str:
    if not value:
        raise BadRequest(f"'{param}' must not be empty.", param=param, code="invalid_value")
    if len(value) > MAX_INPUT_CHARS:
        raise BadRequest(
            f"'{param}' holds {len(value)} characters; at most {MAX_INPUT_CHARS} are accepted.",
            param=param,
            code="string_above_max_length",
        )
    return value


def _decode(tokens: list[int], param: str) -> str:
    """Token ids as the text they stand for (what the gateway analyses and forwards)."""
    if len(tokens) > MAX_INPUT_CHARS:
        raise BadRequest(
            f"'{param}' holds {len(tokens)} tokens; at most {MAX_INPUT_CHARS} are accepted.",
            param=param,
            code="array_above_max_length",
        )
    tokenizer = encoding(TOKEN_ENCODING)
    unknown = BadRequest(
        f"'{param}' holds a token id that is not in {TOKEN_ENCODING}.",
        param=param,
        code="invalid_value",
    )
    # Checked here: the decoder would read a negative id from the end of its table.
    if not all(0 <= token < tokenizer.n_vocab for token in tokens):
        raise unknown
    try:
        text = str(tokenizer.decode(tokens))
    except (KeyError, ValueError, OverflowError):
        raise unknown from None
    return _text(text, param)


def _check_options(body: Mapping[str, Any]) -> None:
    fmt = body.get("encoding_format")
    if fmt is not None and fmt not in ENCODING_FORMATS:
        raise BadRequest(
            "'encoding_format' must be 'float' or 'base64'.",
            param="encoding_format",
            code="invalid_value",
        )
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1
    ):
        raise BadRequest(
            "'dimensions' must be a positive integer.", param="dimensions", code="invalid_value"
        )
