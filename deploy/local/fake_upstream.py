"""A small OpenAI-compatible upstream that records exactly what it received.

It is the project's only test double: no model can run on the development machines.
Every request is kept (method, path, headers, parsed body) and can be read back with
``GET /_fake/requests`` and cleared with ``DELETE /_fake/requests``, so tests can assert
what a model would have seen. Answers are deterministic. Files and fine-tuning jobs
live in memory (an upload is recorded with its text as ``body.content``). Embeddings are
vectors derived from each input's hash.

    python deploy/local/fake_upstream.py --host 127.0.0.1 --port 8300
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.response import Stream

MODELS = ["gpt-4o-mini", "gpt-4o"]
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>")
_recorded: list[dict[str, Any]] = []
# Files and fine-tuning jobs, in memory only (they survive DELETE /_fake/requests).
_files: dict[str, dict[str, Any]] = {}
_file_contents: dict[str, bytes] = {}
_jobs: dict[str, dict[str, Any]] = {}
_counter = iter(range(1, 10**9))


async def _record(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = {"_unparsed": raw.decode("utf-8", "replace")}
    entry = {
        "method": request.method,
        "path": request.url.path,
        "headers": dict(request.headers),
        "body": body,
        "raw_body": raw.decode("utf-8", "replace"),
        "received_at": time.time(),
    }
    _recorded.append(entry)
    return entry


def _last_user(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _answer_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    last_user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
    if not isinstance(last_user, str):
        last_user = json.dumps(last_user)
    answer = f"Fake answer. You asked: {last_user[:200]}"
    seen = _placeholders(body)
    # Echo redaction placeholders, as a model citing them would, so tests can check
    # that the gateway restores them for callers allowed to see originals.
    return answer + (f" Seen: {' '.join(seen)}" if seen else "")


def _placeholders(body: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for message in body.get("messages") or []:
        for token in PLACEHOLDER.findall(str(message.get("content", ""))):
            if token not in seen:
                seen.append(token)
    return seen


def _tool_call_arguments(body: dict[str, Any]) -> str:
    return json.dumps({"query": "lookup", "people": _placeholders(body)})


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion_tokens = len(text.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@get("/v1/models")
async def list_models() -> dict[str, Any]:
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in MODELS]
    return {"object": "list", "data": data}


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
    entry = await _record(request)
    body = entry["body"] or {}
    # Failure switches, settable through the gateway (which forwards no caller headers):
    # a last user message "FAKE_STATUS_<code>" answers that HTTP status; "FAKE_CUT_STREAM"
    # drops the connection mid-stream; "FAKE_SLOW_STREAM" streams one event per 300 ms;
    # "FAKE_ERROR_<status>_<code>" answers OpenAI's error for that code (see _openai_error);
    # "FAKE_DROP_CONNECTION" sends the headers and part of a body, then drops the
    # connection; "FAKE_LONG_STREAM_<n>" streams n events of ~1 KiB as fast as it can and
    # records whether the stream ran to its end (``stream_finished`` on the request entry);
    # "FAKE_CUT_MID_EVENT" streams a few events, then half of one, and drops the
    # connection; "FAKE_STREAM_ERROR" streams a few events, then OpenAI's error object.
    last = _last_user(body)
    error = re.fullmatch(r"FAKE_ERROR_(\d{3})_(\w+)", last)
    if error:
        payload, headers = _openai_error(int(error.group(1)), error.group(2))
        return Response(payload, status_code=int(error.group(1)), headers=headers)
    if last == "FAKE_DROP_CONNECTION":
        return Stream(_dropped(), media_type="application/json")
    long_stream = re.fullmatch(r"FAKE_LONG_STREAM_(\d+)", last)
    if long_stream:
        return Stream(
            _long_stream(int(long_stream.group(1)), entry), media_type="text/event-stream"
        )
    status = re.fullmatch(r"FAKE_STATUS_(\d{3})", last)
    fail = request.headers.get("x-fake-status") or (status.group(1) if status else None)
    if fail:
        error = {
            "message": "fake upstream failure",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        return Response({"error": error}, status_code=int(fail))
    text = _answer_text(body)
    created = int(time.time())
    model = body.get("model", "unknown")
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return Stream(
            _stream(text, model, created, include_usage, body), media_type="text/event-stream"
        )
    message: dict[str, Any] = {"role": "assistant", "content": text}
    finish = "stop"
    if body.get("tools"):
        call = {
            "id": "call_fake",
            "type": "function",
            "function": {"name": _tool_name(body), "arguments": _tool_call_arguments(body)},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    return Response(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": _usage(body, text),
        }
    )


# What OpenAI answers for some error codes: (type, param, message).
_OPENAI_ERRORS = {
    "context_length_exceeded": (
        "invalid_request_error",
        "messages",
        "This model's maximum context length is 128000 tokens. However, your messages "
        "resulted in 200000 tokens. Please reduce the length of the messages.",
    ),
    "rate_limit_exceeded": (
        "requests",
        None,
        "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 60, Used 60, "
        "Requested 1. Please try again in 7s.",
    ),
}
_RATE_LIMIT_HEADERS = {
    "retry-after": "7",
    "x-ratelimit-limit-requests": "60",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "7s",
    "x-ratelimit-limit-tokens": "150000",
    "x-ratelimit-remaining-tokens": "149000",
    "x-ratelimit-reset-tokens": "400ms",
}


def _openai_error(status: int, code: str) -> tuple[dict[str, Any], dict[str, str]]:
    """OpenAI's error body (and, on a 429, its rate-limit headers) for ``code``."""
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    kind, param, message = _OPENAI_ERRORS.get(code, (default_type, None, f"fake {code}"))
    error = {"message": message, "type": kind, "param": param, "code": code}
    return {"error": error}, (_RATE_LIMIT_HEADERS if status == 429 else {})


async def _dropped() -> AsyncIterator[bytes]:
    yield b'{"id": "chatcmpl-fake", "object": "chat.com'
    raise ConnectionResetError("fake upstream dropped the connection")


async def _long_stream(count: int, entry: dict[str, Any]) -> AsyncIterator[bytes]:
    entry["stream_finished"] = False
    entry["events_sent"] = 0
    filler = "x" * 1000
    for n in range(count):
        payload = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}]}
        payload["choices"][0]["delta"] = {"content": f"{n} {filler}"}
        yield f"data: {json.dumps(payload)}\n\n".encode()
        entry["events_sent"] = n + 1
        if n % 64 == 0:
            await asyncio.sleep(0)
    yield b"data: [DONE]\n\n"
    entry["stream_finished"] = True


def _tool_name(body: dict[str, Any]) -> str:
    return str(body["tools"][0].get("function", {}).get("name", "tool"))


async def _stream(
    text: str, model: str, created: int, include_usage: bool, body: dict[str, Any]
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""}, None)
    if body.get("tools"):
        # Arguments in 3-character pieces: placeholders arrive split across events.
        arguments = _tool_call_arguments(body)
        start_call = {
            "index": 0,
            "id": "call_fake",
            "type": "function",
            "function": {"name": _tool_name(body), "arguments": ""},
        }
        yield chunk({"tool_calls": [start_call]}, None)
        for start in range(0, len(arguments), 3):
            piece = {"index": 0, "function": {"arguments": arguments[start : start + 3]}}
            yield chunk({"tool_calls": [piece]}, None)
        yield chunk({}, "tool_calls")
    else:
        # Content in 4-character pieces, for the same reason.
        last = _last_user(body)
        for start in range(0, len(text), 4):
            if last == "FAKE_CUT_STREAM" and start >= 8:
                raise ConnectionResetError("fake upstream cut the stream")
            if last == "FAKE_CUT_MID_EVENT" and start >= 8:
                yield chunk({"content": "half"}, None)[:25]
                raise ConnectionResetError("fake upstream cut the stream mid-event")
            if last == "FAKE_STREAM_ERROR" and start >= 8:
                error = {"message": "fake overload", "type": "server_error", "code": "server_error"}
                yield f"data: {json.dumps({'error': {**error, 'param': None}})}\n\n".encode()
                return
            yield chunk({"content": text[start : start + 4]}, None)
            await asyncio.sleep(0.3 if last == "FAKE_SLOW_STREAM" else 0)
        yield chunk({}, "stop")
    if include_usage:
        usage = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": _usage(body, text),
        }
        yield f"data: {json.dumps(usage)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _not_found(what: str) -> Response[Any]:
    error = {
        "message": f"No such {what}",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    return Response({"error": error}, status_code=404)


@post("/v1/files", status_code=200)
async def create_file(request: Request[Any, Any, Any]) -> Response[Any]:
    """Multipart upload; recorded with the file's text as ``body.content``."""
    form = await request.form()
    upload = form.get("file")
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    purpose = str(form.get("purpose") or "")
    filename = upload.filename if isinstance(upload, UploadFile) else ""
    _recorded.append(
        {
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "body": {
                "purpose": purpose,
                "filename": filename,
                "bytes": len(content),
                "content": content.decode("utf-8", "replace"),
            },
            "raw_body": "",
            "received_at": time.time(),
        }
    )
    file_id = f"file-fake{next(_counter)}"
    _files[file_id] = {
        "id": file_id,
        "object": "file",
        "bytes": len(content),
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
        "status_details": None,
    }
    _file_contents[file_id] = content
    return Response(_files[file_id])


@get("/v1/files")
async def list_files(request: Request[Any, Any, Any]) -> dict[str, Any]:
    await _record(request)
    purpose = request.query_params.get("purpose")
    return _page(request, [f for f in _files.values() if purpose in (None, f["purpose"])])


def _page(request: Request[Any, Any, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAI's list paging: ``after`` (an id) and ``limit``."""
    after = request.query_params.get("after")
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int(request.query_params.get("limit", 20))
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


@get("/v1/files/{file_id:str}")
async def retrieve_file(request: Request[Any, Any, Any], file_id: str) -> Response[Any]:
    await _record(request)
    return Response(_files[file_id]) if file_id in _files else _not_found("File")


@get("/v1/files/{file_id:str}/content")
async def file_content(request: Request[Any, Any, Any], file_id: str) -> Response[Any]:
    await _record(request)
    if file_id not in _file_contents:
        return _not_found("File")
    return Response(_file_contents[file_id], media_type="application/octet-stream")


@delete("/v1/files/{file_id:str}", status_code=200)
async def delete_file(request: Request[Any, Any, Any], file_id: str) -> Response[Any]:
    await _record(request)
    _file_contents.pop(file_id, None)
    if _files.pop(file_id, None) is None:
        return _not_found("File")
    return Response({"id": file_id, "object": "file", "deleted": True})


@post("/v1/fine_tuning/jobs", status_code=200)
async def create_job(request: Request[Any, Any, Any]) -> Response[Any]:
    body = (await _record(request))["body"] or {}
    if body.get("training_file") not in _files:
        return _not_found("File")
    job_id = f"ftjob-fake{next(_counter)}"
    _jobs[job_id] = {
        "id": job_id,
        "object": "fine_tuning.job",
        "created_at": int(time.time()),
        "model": body.get("model"),
        "training_file": body["training_file"],
        "validation_file": body.get("validation_file"),
        "status": "validating_files",
        "fine_tuned_model": None,
        "finished_at": None,
        "error": None,
        "hyperparameters": {
            "n_epochs": "auto",
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
        },
        "organization_id": "org-fake",
        "result_files": [],
        "trained_tokens": None,
        "seed": 0,
        "estimated_finish": None,
        "integrations": [],
        "suffix": body.get("suffix"),
    }
    return Response(_jobs[job_id])


@get("/v1/fine_tuning/jobs")
async def list_jobs(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Newest first, paged like OpenAI's."""
    await _record(request)
    return _page(request, list(reversed(_jobs.values())))


@get("/v1/fine_tuning/jobs/{job_id:str}")
async def retrieve_job(request: Request[Any, Any, Any], job_id: str) -> Response[Any]:
    await _record(request)
    return Response(_jobs[job_id]) if job_id in _jobs else _not_found("fine-tuning job")


@post("/v1/fine_tuning/jobs/{job_id:str}/cancel", status_code=200)
async def cancel_job(request: Request[Any, Any, Any], job_id: str) -> Response[Any]:
    await _record(request)
    if job_id not in _jobs:
        return _not_found("fine-tuning job")
    _jobs[job_id]["status"] = "cancelled"
    return Response(_jobs[job_id])


@get("/v1/fine_tuning/jobs/{job_id:str}/events")
async def job_events(request: Request[Any, Any, Any], job_id: str) -> Response[Any]:
    await _record(request)
    job = _jobs.get(job_id)
    if job is None:
        return _not_found("fine-tuning job")
    event = {
        "id": f"ftevent-{job_id}-1",
        "object": "fine_tuning.job.event",
        "created_at": job["created_at"],
        "level": "info",
        "message": f"Job status: {job['status']}",
        "data": {},
        "type": "message",
    }
    return Response({"object": "list", "data": [event], "has_more": False})


# --- Responses API (POST/GET/DELETE /v1/responses...) --------------------------------
# Stored responses and their input items, in memory (they survive DELETE /_fake/requests).
_responses: dict[str, dict[str, Any]] = {}
_response_inputs: dict[str, list[dict[str, Any]]] = {}


def _input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    return [item for item in raw or [] if isinstance(item, dict)]


def _item_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _last_user_input(body: dict[str, Any]) -> str:
    for item in reversed(_input_items(body)):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return _item_text(item)
    return ""


def _response_placeholders(body: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    texts = [str(body.get("instructions") or ""), json.dumps(body.get("input"))]
    for token in PLACEHOLDER.findall(" ".join(texts)):
        if token not in seen:
            seen.append(token)
    return seen


def _response_output(body: dict[str, Any], response_id: str) -> tuple[list[dict[str, Any]], str]:
    """A function call when tools are offered and the last item is not a tool's output,
    else a message echoing the last user input (and any placeholders the model saw)."""
    items = _input_items(body)
    last_type = items[-1].get("type") if items else None
    if body.get("tools") and last_type != "function_call_output":
        tool = body["tools"][0]
        arguments = json.dumps({"query": "lookup", "people": _response_placeholders(body)})
        call = {
            "id": f"fc_{response_id}",
            "type": "function_call",
            "status": "completed",
            "call_id": f"call_{response_id}",
            "name": str(tool.get("name") or "tool"),
            "arguments": arguments,
        }
        return [call], ""
    seen = _response_placeholders(body)
    text = f"Fake answer. You asked: {_last_user_input(body)[:200]}"
    text += f" Seen: {' '.join(seen)}" if seen else ""
    message = {
        "id": f"msg_{response_id}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }
    return [message], text


def _response_object(
    body: dict[str, Any], response_id: str, output: list[dict[str, Any]], status: str
) -> dict[str, Any]:
    words = len(json.dumps(body.get("input")).split()) + len(
        str(body.get("instructions") or "").split()
    )
    out_words = len(json.dumps(output).split())
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": bool(body.get("background")),
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model", "unknown"),
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": (
            {
                "input_tokens": words,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": out_words,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": words + out_words,
            }
            if status == "completed"
            else None
        ),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


@post("/v1/responses", status_code=200)
async def create_response(request: Request[Any, Any, Any]) -> Response[Any] | Stream:
    """Same failure switches as chat, read from the last user input."""
    entry = await _record(request)
    body = entry["body"] or {}
    last = _last_user_input(body)
    error = re.fullmatch(r"FAKE_ERROR_(\d{3})_(\w+)", last)
    if error:
        payload, headers = _openai_error(int(error.group(1)), error.group(2))
        return Response(payload, status_code=int(error.group(1)), headers=headers)
    previous = body.get("previous_response_id")
    if previous is not None and previous not in _responses:
        error_body = {
            "message": f"Previous response with id '{previous}' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        }
        return Response({"error": error_body}, status_code=400)
    long_stream = re.fullmatch(r"FAKE_LONG_STREAM_(\d+)", last)
    if long_stream and body.get("stream"):
        return Stream(
            _long_response_stream(int(long_stream.group(1)), entry),
            media_type="text/event-stream",
        )
    response_id = f"resp_fake{next(_counter)}"
    output, _text = _response_output(body, response_id)
    final = _response_object(body, response_id, output, "completed")
    if body.get("store", True):
        _responses[response_id] = final
        _response_inputs[response_id] = _input_items(body)
    if body.get("stream"):
        return Stream(_response_events(body, final, last), media_type="text/event-stream")
    return Response(final)


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


async def _response_events(
    body: dict[str, Any], final: dict[str, Any], last: str
) -> AsyncIterator[bytes]:
    """OpenAI's event sequence; text in 4-character and arguments in 3-character deltas,
    so placeholders arrive split across events."""
    numbers = iter(range(10**9))
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    yield _sse({"type": "response.created", "sequence_number": next(numbers), "response": started})
    yield _sse(
        {"type": "response.in_progress", "sequence_number": next(numbers), "response": started}
    )
    for index, item in enumerate(final["output"]):
        common = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "function_call":
            added = {**item, "arguments": "", "status": "in_progress"}
            yield _sse(
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(numbers),
                    "output_index": index,
                    "item": added,
                }
            )
            arguments = item["arguments"]
            for start in range(0, len(arguments), 3):
                yield _sse(
                    {
                        "type": "response.function_call_arguments.delta",
                        "sequence_number": next(numbers),
                        **common,
                        "delta": arguments[start : start + 3],
                    }
                )
            yield _sse(
                {
                    "type": "response.function_call_arguments.done",
                    "sequence_number": next(numbers),
                    **common,
                    "arguments": arguments,
                }
            )
        else:
            text = item["content"][0]["text"]
            added = {**item, "content": [], "status": "in_progress"}
            yield _sse(
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(numbers),
                    "output_index": index,
                    "item": added,
                }
            )
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            part = {**common, "content_index": 0}
            yield _sse(
                {
                    "type": "response.content_part.added",
                    "sequence_number": next(numbers),
                    **part,
                    "part": empty,
                }
            )
            for start in range(0, len(text), 4):
                if last == "FAKE_CUT_STREAM" and start >= 8:
                    raise ConnectionResetError("fake upstream cut the stream")
                if last == "FAKE_CUT_MID_EVENT" and start >= 8:
                    yield _sse({"type": "response.output_text.delta", "delta": "half"})[:30]
                    raise ConnectionResetError("fake upstream cut the stream mid-event")
                if last == "FAKE_STREAM_ERROR" and start >= 8:
                    failed = {
                        **started,
                        "status": "failed",
                        "error": {"code": "server_error", "message": "fake overload"},
                    }
                    event = {"type": "response.failed", "response": failed}
                    yield _sse({**event, "sequence_number": next(numbers)})
                    return
                yield _sse(
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": next(numbers),
                        **part,
                        "delta": text[start : start + 4],
                        "logprobs": [],
                    }
                )
                await asyncio.sleep(0.3 if last == "FAKE_SLOW_STREAM" else 0)
            yield _sse(
                {
                    "type": "response.output_text.done",
                    "sequence_number": next(numbers),
                    **part,
                    "text": text,
                    "logprobs": [],
                }
            )
            yield _sse(
                {
                    "type": "response.content_part.done",
                    "sequence_number": next(numbers),
                    **part,
                    "part": item["content"][0],
                }
            )
        yield _sse(
            {
                "type": "response.output_item.done",
                "sequence_number": next(numbers),
                "output_index": index,
                "item": item,
            }
        )
    yield _sse({"type": "response.completed", "sequence_number": next(numbers), "response": final})


async def _long_response_stream(count: int, entry: dict[str, Any]) -> AsyncIterator[bytes]:
    """n text deltas of ~1 KiB as fast as possible; records whether it reached its end."""
    entry["stream_finished"] = False
    entry["events_sent"] = 0
    started = {"id": "resp_fakelong", "object": "response", "status": "in_progress", "output": []}
    yield _sse({"type": "response.created", "sequence_number": 0, "response": started})
    filler = "x" * 1000
    for n in range(count):
        yield _sse(
            {
                "type": "response.output_text.delta",
                "sequence_number": n + 1,
                "item_id": "msg_fakelong",
                "output_index": 0,
                "content_index": 0,
                "delta": f"{n} {filler}",
                "logprobs": [],
            }
        )
        entry["events_sent"] = n + 1
        if n % 64 == 0:
            await asyncio.sleep(0)
    done = {**started, "status": "completed"}
    yield _sse({"type": "response.completed", "sequence_number": count + 1, "response": done})
    entry["stream_finished"] = True


@get("/v1/responses/{response_id:str}")
async def retrieve_response(request: Request[Any, Any, Any], response_id: str) -> Response[Any]:
    await _record(request)
    found = _responses.get(response_id)
    return Response(found) if found is not None else _not_found("response")


@get("/v1/responses/{response_id:str}/input_items")
async def response_input_items(request: Request[Any, Any, Any], response_id: str) -> Response[Any]:
    await _record(request)
    if response_id not in _response_inputs:
        return _not_found("response")
    items = [
        {"id": item.get("id") or f"item_{response_id}_{n}", **item}
        for n, item in enumerate(_response_inputs[response_id])
    ]
    return Response(
        {
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": False,
        }
    )


@delete("/v1/responses/{response_id:str}", status_code=200)
async def delete_response(request: Request[Any, Any, Any], response_id: str) -> Response[Any]:
    await _record(request)
    _response_inputs.pop(response_id, None)
    if _responses.pop(response_id, None) is None:
        return _not_found("response")
    return Response({"id": response_id, "object": "response.deleted", "deleted": True})


@post("/v1/responses/{response_id:str}/cancel", status_code=200)
async def cancel_response(request: Request[Any, Any, Any], response_id: str) -> Response[Any]:
    await _record(request)
    found = _responses.get(response_id)
    if found is None:
        return _not_found("response")
    return Response({**found, "status": "cancelled"})


@post("/v1/embeddings", status_code=200)
async def embeddings(request: Request[Any, Any, Any]) -> Response[Any]:
    """Deterministic vectors (from each input's SHA-256), as floats or base64 float32 as
    ``encoding_format`` asks; ``dimensions`` sets their length (default 8)."""
    entry = await _record(request)
    body = entry["body"] or {}
    inputs = body.get("input")
    inputs = inputs if isinstance(inputs, list) else [inputs]
    size = body.get("dimensions") or 8
    data = []
    for index, item in enumerate(inputs):
        text = item if isinstance(item, str) else json.dumps(item)
        digest = hashlib.sha256(text.encode()).digest()
        vector = [(digest[i % 32] - 127.5) / 127.5 for i in range(size)]
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(str(item).split()) for item in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return Response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})


@get("/_fake/requests")
async def recorded() -> list[dict[str, Any]]:
    return _recorded


@delete("/_fake/requests", status_code=204)
async def clear() -> None:
    _recorded.clear()


app = Litestar(
    route_handlers=[
        list_models,
        chat_completions,
        create_file,
        list_files,
        retrieve_file,
        file_content,
        delete_file,
        create_job,
        list_jobs,
        retrieve_job,
        cancel_job,
        job_events,
        create_response,
        retrieve_response,
        response_input_items,
        delete_response,
        cancel_response,
        embeddings,
        recorded,
        clear,
    ],
    request_max_body_size=64 * 1024 * 1024,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
