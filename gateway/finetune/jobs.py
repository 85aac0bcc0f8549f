"""Fine-tuning job requests: their file ids, the state a training file must be in, and
the swap of upstream file ids back to the gateway's in the jobs the upstream returns."""

from __future__ import annotations

from typing import Any

from gateway.errors import BadRequest, GatewayError, PolicyDenied
from gateway.finetune.registry import ERROR, UPLOADED, FileEntry

JOB_FILE_FIELDS = ("training_file", "validation_file")


def job_request(body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The model and the file ids of a job request, or BadRequest."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required.", param="model", code="missing_required_parameter")
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
