"""Parse a fine-tuning upload: OpenAI's chat JSONL, one ``{"messages": [...]}`` per line.

Every bad line is reported by number (1-based) so the caller can fix the file; nothing
of a malformed upload is stored or forwarded. The messages' text is kept only in memory
for the scan; error messages name lines and problems, never content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.errors import BadRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    """1-based line number in the uploaded file."""
    texts: tuple[str, ...]
    """The text of every message, in order."""

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def parse_examples(content: bytes) -> list[Example]:
    """The examples of a chat-format JSONL file, or BadRequest naming every bad line."""
    try:
        decoded = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            "The training file is not UTF-8 text (expected JSONL).",
            param="file",
            code="invalid_file_format",
        ) from exc
    examples: list[Example] = []
    problems: list[str] = []
    for number, line in enumerate(decoded.splitlines(), start=1):
        if not line.strip():
            continue
        texts, problem = _example(line)
        if problem is not None:
            problems.append(f"line {number}: {problem}")
        else:
            examples.append(Example(number, texts))
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise BadRequest(
            f"Invalid fine-tuning file: {len(problems)} bad line(s): {shown}{more}. Each line "
            'must be a JSON object {"messages": [{"role": ..., "content": ...}, ...]}.',
            param="file",
            code="invalid_file_format",
        )
    if not examples:
        raise BadRequest(
            "The training file has no examples.", param="file", code="invalid_file_format"
        )
    return examples


def _example(line: str) -> tuple[tuple[str, ...], str | None]:
    try:
        record: Any = json.loads(line)
    except ValueError:
        return (), "not valid JSON"
    if not isinstance(record, dict):
        return (), "not a JSON object"
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return (), "'messages' must be a non-empty list"
    texts: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return (), f"messages[{index}] is not an object"
        if message.get("role") not in ROLES:
            return (), f"messages[{index}].role must be one of {', '.join(sorted(ROLES))}"
        text, problem = _content(message.get("content"), message)
        if problem is not None:
            return (), f"messages[{index}].{problem}"
        texts.append(text)
    if not any(m.get("role") == "assistant" for m in messages):
        return (), "no assistant message to train on"
    return tuple(texts), None


def _content(content: Any, message: dict[str, Any]) -> tuple[str, str | None]:
    """All trainable text of a message: its content and any tool or function calls.

    Tool-call arguments are scanned whatever the content holds: governed text hidden in
    arguments next to a harmless ``content`` must not pass.
    """
    calls = [*(message.get("tool_calls") or []), *filter(None, [message.get("function_call")])]
    call_text = json.dumps(calls, ensure_ascii=False) if calls else ""
    if content is None and calls:
        return call_text, None
    if isinstance(content, str):
        return "\n".join(filter(None, [content, call_text])), None
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        if parts and len(parts) == len(content) and all(isinstance(p, str) for p in parts):
            return "\n".join(filter(None, [*(str(p) for p in parts), call_text])), None
    return "", "content must be a string or a list of text parts"
