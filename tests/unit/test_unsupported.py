"""The 404 for unserved /v1/ endpoints, on a small app (no services)."""

from __future__ import annotations

from litestar import Litestar, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.testing import TestClient

from gateway.http.errors import EXCEPTION_HANDLERS
from gateway.http.unsupported import not_found_handler


@post("/v1/chat/completions")
async def chat() -> str:
    return "chat"


@get("/v1/files/{file_id:str}")
async def file(file_id: FromPath[str]) -> str:
    return file_id


def _app() -> Litestar:
    return Litestar(
        [chat, file],
        exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: not_found_handler},
    )


def test_unserved_v1_path_names_what_is_served() -> None:
    """Any method on an unserved /v1/ path: 404 unsupported_endpoint listing the routes."""
    with TestClient(_app()) as client:
        for method, path in [
            ("POST", "/v1/completions"),
            ("GET", "/v1/files/f/nested/deeper"),
            ("DELETE", "/v1/batches/b"),
        ]:
            response = client.request(method, path)
            assert response.status_code == 404
            error = response.json()["error"]
            assert error["code"] == "unsupported_endpoint"
            assert error["type"] == "not_found_error"
            assert f"{method} {path}" in error["message"]
            assert "POST /v1/chat/completions, GET /v1/files/{file_id}" in error["message"]


def test_other_router_errors_unchanged() -> None:
    """Outside /v1/ the plain 404; a served path with a wrong method its 405."""
    with TestClient(_app()) as client:
        missing = client.get("/nowhere")
        wrong = client.get("/v1/chat/completions")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] is None
    assert wrong.status_code == 405
