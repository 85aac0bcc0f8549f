"""OpenAI's chat message schema, as strict pydantic types: what the upstream would accept.

Mirrors ``openai.types.chat.ChatCompletionMessageParam`` (roles, content types, content
parts, ``name``, ``tool_calls``); ``tests/unit/test_chat_schema.py`` checks every message
the SDK's own types describe is accepted, so this can only be as strict as OpenAI.
Strict mode: no coercion (``"1"`` is not a number, ``1`` is not a string). Keys the
schema does not name pass through unchecked (the upstream judges them), as top-level
body keys do.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

_CONFIG = ConfigDict(strict=True, extra="allow")


class TextPart(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    type: Literal["text"]
    text: str


class _ImageURL(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    url: str
    detail: NotRequired[Literal["auto", "low", "high", "original"]]


class ImagePart(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    type: Literal["image_url"]
    image_url: _ImageURL


class _InputAudio(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    data: str
    format: Literal["wav", "mp3"]


class AudioPart(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    type: Literal["input_audio"]
    input_audio: _InputAudio


class _File(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    file_data: NotRequired[str]
    file_id: NotRequired[str]
    filename: NotRequired[str]


class FilePart(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    type: Literal["file"]
    file: _File


class RefusalPart(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    type: Literal["refusal"]
    refusal: str


UserPart = Annotated[TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")]
AssistantPart = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


class SystemMessage(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    role: Literal["system"]
    content: str | list[TextPart]
    name: NotRequired[str]


class DeveloperMessage(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    role: Literal["developer"]
    content: str | list[TextPart]
    name: NotRequired[str]


class UserMessage(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    role: Literal["user"]
    content: str | list[UserPart]
    name: NotRequired[str]


class _Function(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    name: str
    arguments: str


class _Custom(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    name: str
    input: str


class FunctionToolCall(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    id: str
    type: Literal["function"]
    function: _Function


class CustomToolCall(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    id: str
    type: Literal["custom"]
    custom: _Custom


ToolCall = Annotated[FunctionToolCall | CustomToolCall, Field(discriminator="type")]


class _Audio(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    id: str


class AssistantMessage(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    role: Literal["assistant"]
    content: NotRequired[str | list[AssistantPart] | None]
    refusal: NotRequired[str | None]
    name: NotRequired[str]
    audio: NotRequired[_Audio | None]
    tool_calls: NotRequired[list[ToolCall]]
    function_call: NotRequired[_Function | None]


class ToolMessage(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(TypedDict):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    role: Literal["function"]
    content: str | None
    name: str


Message = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Field(discriminator="role"),
]
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@cache
def message_adapter() -> TypeAdapter[Any]:
    """Built on first use (not at import): validates one message."""
    return TypeAdapter(Message)


@cache
def messages_adapter() -> TypeAdapter[Any]:
    """Built on first use (not at import): validates the ``messages`` array."""
    return TypeAdapter(list[Message])


@cache
def chat_request_type() -> Any:
    """The chat request body as the gateway checks it (for the OpenAPI document): ``model``,
    ``messages``, ``stream``; every other field is the upstream's and passes through."""

    class ChatCompletionRequest(TypedDict):
        __pydantic_config__ = _CONFIG  # type: ignore[misc]
        model: Annotated[str, Field(min_length=1)]
        messages: Annotated[list[Message], Field(min_length=1)]
        stream: NotRequired[bool]

    return ChatCompletionRequest
