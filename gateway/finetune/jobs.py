"""Fine-tuning job requests: their file ids, the state a training file must be in, and
the swap of upstream file ids back to the gateway's in the jobs the upstream returns."""

from __future__ import annotations

from typing import Any

from gateway.chat_request import required_model
from gateway.errors import BadRequest, GatewayError, PolicyDenied
from gateway.finetune.registry import ERROR, UPLOADED, FileEntry

JOB_FILE_FIELDS = ("training_file", "validation_file")


JOB_FIELD_TYPES: dict[str, type] = {
    "suffix": str,
    "seed": int,
    "metadata": dict,
    "integrations": list,
    "hyperparameters": dict,
    "method": dict,
}
"""OpenAI's job fields besides the model and files, and their JSON types (each may be
null): a wrong type is the 400 OpenAI would give, not forwarded."""
MAX_SUFFIX = 64
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def job_request(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The model and the file ids of a job request, or BadRequest."""
    model = required_model(body)
    _check_fields(body)
    files: dict[str, str] = {}
    for param in ("training_file", "validation_file"):
        value = body.get(param)
        if value is None and param == "validation_file":
            continue
        if not isinstance(value, str) or not value:
            problem = "is required" if value is None else "must be a file id (a string)"
            raise BadRequest(f"'{param}' {problem}.", param=param, code="invalid_value")
        files[param] = value
    return model, files


def _check_fields(body: dict[str, Any]) -> None:
    for field, kind in JOB_FIELD_TYPES.items():
        value = body.get(field)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise BadRequest(
                f"'{field}' must be {_JSON_TYPES[kind]} or null.", param=field, code="invalid_type"
            )
    suffix, metadata = body.get("suffix"), body.get("metadata")
    if isinstance(suffix, str) and len(suffix) > MAX_SUFFIX:
        raise BadRequest(
            f"'suffix' may be at most {MAX_SUFFIX} characters.",
            param="suffix",
            code="invalid_value",
        )
    if isinstance(metadata, dict) and (
        len(metadata) > MAX_METADATA_KEYS
        or any(len(key) > MAX_METADATA_KEY for key in metadata)
        or any(not isinstance(v, str) or len(v) > MAX_METADATA_VALUE for v in metadata.values())
    ):
        raise BadRequest(
            f"'metadata' must map at most {MAX_METADATA_KEYS} keys of up to {MAX_METADATA_KEY}"
            f" characters to strings of up to {MAX_METADATA_VALUE}.",
            param="metadata",
            code="invalid_value",
        )
    method = body.get("method")
    if isinstance(method, dict) and not isinstance(method.get("type"), str):
        raise BadRequest("'method.type' must be a string.", param="method", code="invalid_type")


_JSON_TYPES = {str: "a string", int: "an integer", dict: "an object", list: "an array"}


def require_processed(entry: FileEntry, param: str) -> None:
    """400 while the file is scanned; its refusal (403 policy, else 400) once refused."""
    if entry.status == UPLOADED:
        raise BadRequest(
            f"The file {entry.id} is still being scanned (status 'uploaded'); create the "
            "job once its status is 'processed'.",
            param=param,
            code="file_not_ready",
        )
    if entry.status == ERROR:
        message = f"The file {entry.id} was refused: {entry.status_details}"
        if entry.error_status == 403:
            raise PolicyDenied(message, param=param, code="finetune_file_refused")
        raise BadRequest(message, param=param, code=entry.error_code or "invalid_file")
    if not entry.upstream_id:
        raise GatewayError(f"The file {entry.id} is processed but not stored upstream.")


def with_file_ids(job: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The upstream's job with the gateway's file ids in place of the upstream's."""
    return {
        **job,
        **{
            k: ids[job[k]] for k in JOB_FILE_FIELDS if isinstance(job.get(k), str) and job[k] in ids
        },
    }
