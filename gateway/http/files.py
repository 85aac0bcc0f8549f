"""OpenAI's files endpoints: POST/GET /v1/files, GET/DELETE /v1/files/{id},
GET /v1/files/{id}/content."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath

from gateway.errors import BadRequest, GatewayError, PayloadTooLarge
from gateway.finetune import Caller
from gateway.http.auth import authenticate
from gateway.services import Services


def caller(request: Request[Any, Any, Any], services: Services) -> Caller:
    principal = authenticate(request, services, f"{request.method} {request.url.path}")
    return Caller(principal, str(request.state.request_id))


@post("/v1/files", status_code=200)
async def create_file(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    who = caller(request, services)
    try:
        filename, content, purpose = await _upload(
            request, services.settings.finetune_max_upload_bytes
        )
    except GatewayError as exc:
        await services.finetune.refused(who, {"action": "files.create"}, exc)
        raise
    return await services.finetune.upload(who, filename, content, purpose)


PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
"""OpenAI's file purposes: another is a 400 at once (which of these may be uploaded is the
policy's call, a 403 after the scan)."""
MAX_FILENAME = 255


async def _upload(request: Request[Any, Any, Any], limit: int) -> tuple[str, bytes, str]:
    """The uploaded file's name, bytes and purpose, or the 4xx that says what is wrong
    (``limit``: the file's size limit, for the message of a body far over it)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest(
            "Upload the file as multipart/form-data.", param="file", code="invalid_content_type"
        )
    try:
        form = await request.form()
    except RequestEntityTooLarge as exc:
        raise PayloadTooLarge(
            f"The request body is larger than the upload limit of {limit} bytes.",
            param="file",
        ) from exc
    except ClientException as exc:
        raise BadRequest(
            "The multipart body could not be parsed.", param="file", code="invalid_multipart"
        ) from exc
    for field in ("file", "purpose"):
        if len(form.getall(field, [])) > 1:
            raise BadRequest(f"Send one '{field}', not several.", param=field, code="invalid_value")
    upload = form.get("file")
    purpose = form.get("purpose")
    if not isinstance(upload, UploadFile):
        raise BadRequest("'file' is required.", param="file", code="missing_required_parameter")
    if not isinstance(purpose, str) or not purpose:
        raise BadRequest(
            "'purpose' is required.", param="purpose", code="missing_required_parameter"
        )
    if purpose not in PURPOSES:
        raise BadRequest(
            f"'purpose' must be one of {', '.join(sorted(PURPOSES))}.",
            param="purpose",
            code="invalid_value",
        )
    filename = upload.filename or "upload"
    if len(filename) > MAX_FILENAME:
        raise BadRequest(
            f"The file name may be at most {MAX_FILENAME} characters.",
            param="file",
            code="invalid_value",
        )
    return filename, await upload.read(), purpose


@get("/v1/files")
async def list_files(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    params = {
        k: str(request.query_params[k])
        for k in ("purpose", "after", "limit", "order")
        if k in request.query_params
    }
    return await services.finetune.list_files(caller(request, services), params)


@get("/v1/files/{file_id:str}")
async def retrieve_file(
    request: Request[Any, Any, Any], file_id: FromPath[str], services: NamedDependency[Services]
) -> dict[str, Any]:
    return await services.finetune.retrieve_file(caller(request, services), file_id)


@get("/v1/files/{file_id:str}/content")
async def file_content(
    request: Request[Any, Any, Any], file_id: FromPath[str], services: NamedDependency[Services]
) -> Response[bytes]:
    content, media_type = await services.finetune.file_content(caller(request, services), file_id)
    return Response(content=content, media_type=media_type)


@delete("/v1/files/{file_id:str}", status_code=200)
async def delete_file(
    request: Request[Any, Any, Any], file_id: FromPath[str], services: NamedDependency[Services]
) -> dict[str, Any]:
    return await services.finetune.delete_file(caller(request, services), file_id)


FILE_HANDLERS = [create_file, list_files, retrieve_file, file_content, delete_file]
