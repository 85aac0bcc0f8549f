"""Parse an upload into examples: OpenAI's JSONL, one JSON object per line.

Every bad line is reported by number (1-based) so the caller can fix the file; nothing
of a malformed upload is stored or forwarded. Lines are split at ``\\n`` only (a U+2028
inside a JSON string is part of the string, as JSON says). A line is bad when it is not
a JSON object, nests too deeply, repeats a key in one object (which of two ``messages``
would the trainer read?), holds an unpaired UTF-16 surrogate escape, or (fine-tuning
files) is not a training example in one of OpenAI's formats: supervised chat (with an
assistant message), preference (DPO) or reinforcement.

Each example's ``texts`` are *every* string of the line, keys included, whatever key it
sits under (``name``, ``weight``, ``tools``...): the chat body walker's sites first, then
the strings it leaves out, plus the decoded text of anything plainly encoded in them
(``gateway.finetune.decode``): the scan sees what a trainer or model could read. Error
messages name lines and problems, never content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from gateway.chat_schema import ROLES as CHAT_ROLES
from gateway.errors import BadRequest
from gateway.finetune.decode import hidden_texts, walk_strings
from gateway.pii.walker import walk

# The chat endpoint's roles: OpenAI's fine-tuning chat format takes the (deprecated)
# ``function`` message too (FineTuneChatRequestInput in its OpenAPI document).
ROLES = frozenset(CHAT_ROLES)
MAX_REPORTED = 20
MAX_BAD_LINES = 1000
"""Reading stops at this many bad lines: the file is refused anyway, and a file of
millions of bad lines is answered at once, not after a minute of error messages."""
MAX_DEPTH = 64
TEXT_BLOCK = 4000
"""Plain-text uploads (not JSONL) are scanned in blocks of about this many characters."""

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""Where a line can hold an unpaired surrogate: a ``\\uD800``-``\\uDFFF`` escape (raw
UTF-8 text cannot), so lines without one skip the walk over their strings."""
_KEY_END = re.compile(r'"[ \t\n\r]*:')
"""Where a key can end: at least one match per object key of a line (a string value
holding ``\\":`` adds one more), so a line with no more matches than the keys its
parsed object kept has no repeated key."""
_DECODE = msgspec.json.Decoder().decode
_NO_MESSAGES = "'messages' must be a non-empty list ('input.messages' in a preference example)"
_NO_ASSISTANT = "no assistant message to train on"
_PLAIN_MESSAGE_KEYS = frozenset({"role", "content", "weight"})
STRUCTURE = frozenset(
    {
        *ROLES,
        *("messages", "role", "content", "name", "weight", "text", "type", "id", "refusal"),
        *("tool_calls", "tool_call_id", "function_call", "function", "arguments", "tools"),
        *("parameters", "properties", "required", "description", "parallel_tool_calls"),
        *("custom_id", "method", "url", "body", "model", "POST", "/v1/chat/completions"),
        *("input", "preferred_output", "non_preferred_output", "image_url", "detail"),
    }
)
"""Keys and values of the formats themselves: the same in every file, never scanned."""


@dataclass(frozen=True, slots=True)
class Example:
    line: int
    """1-based line number in the uploaded file."""
    texts: tuple[str, ...]
    """Every string of the line and the decoded text hidden in them, in order."""

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    def __reduce__(self) -> tuple[type[Example], tuple[int, tuple[str, ...]]]:
        # The scan helper sends every example back: pickled as its fields, a slotted
        # dataclass's own pickling calls ``fields()`` per object, several times slower.
        return Example, (self.line, self.texts)


class _LineProblem(ValueError):
    pass


def parse_examples(content: bytes, *, chat: bool = True) -> list[Example]:
    """The examples of a JSONL file, or BadRequest naming every bad line.

    ``chat``: each line must be a fine-tuning chat example; otherwise any JSON object.
    """
    examples, problems = parse_lines(_utf8(content), chat=chat)
    return checked(examples, problems, chat=chat)


def parse_lines(decoded: str, *, chat: bool, first: int = 1) -> tuple[list[Example], list[str]]:
    """The examples of a run of JSONL lines (``first``: the first one's number) and the
    problems of its bad lines, at most ``MAX_BAD_LINES`` (``checked`` words them).

    The problems of two consecutive runs, concatenated, are those of the two read as one.
    """
    examples: list[Example] = []
    problems: list[str] = []
    hidden: dict[str, list[str]] = {}
    for number, line in enumerate(decoded.split("\n"), start=first):
        if not line.strip():
            continue
        plain: list[str] | None
        try:
            fast = _plain_line(line)
            if fast is not None:
                record, plain = _NO_RECORD, fast[0]
                if chat:
                    _check_plain(*fast)
            else:
                record, plain = _record(line)
                if chat:
                    _check_chat(record, plain)
        except _LineProblem as exc:
            problems.append(f"line {number}: {exc}")
            if len(problems) == MAX_BAD_LINES:
                break
            continue
        examples.append(Example(number, _texts(record, plain, hidden)))
    return examples, problems


def checked(examples: list[Example], problems: list[str], *, chat: bool) -> list[Example]:
    """``examples``, or BadRequest naming the first ``MAX_BAD_LINES`` of ``problems``."""
    problems = problems[:MAX_BAD_LINES]
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        if len(problems) == MAX_BAD_LINES:
            more = f" (and more: reading stopped at {MAX_BAD_LINES} bad lines)"
        shape = (
            'a JSON object {"messages": [{"role": ..., "content": ...}, ...]} (or a preference'
            ' example: {"input": {"messages": [...]}, "preferred_output": [...],'
            ' "non_preferred_output": [...]})'
            if chat
            else "a JSON object"
        )
        count = f"{len(problems)}" if len(problems) < MAX_BAD_LINES else f"{MAX_BAD_LINES}+"
        raise BadRequest(
            f"Invalid JSONL file: {count} bad line(s): {shown}{more}. Each line must be {shape}.",
            param="file",
            code="invalid_file_format",
        )
    if not examples:
        raise BadRequest("The file has no examples.", param="file", code="invalid_file_format")
    return examples


def request_example(record: dict[str, Any]) -> Example | None:
    """Every string of a request body (a fine-tuning job's suffix, metadata,
    integrations, a grader's prompts) and the text hidden in them, as one example."""
    texts = _texts(record)
    return Example(1, texts) if texts else None


def text_blocks(text: str) -> list[Example]:
    """``text`` as blocks of whole lines of about ``TEXT_BLOCK`` characters."""
    return run_blocks(enumerate(text.split("\n"), start=1))


def run_blocks(lines: Iterable[tuple[int, str]]) -> list[Example]:
    """Numbered lines (or a binary file's readable runs) as blocks of about
    ``TEXT_BLOCK`` characters, each numbered by its first line."""
    blocks: list[Example] = []
    start, texts = 1, list[str]()
    size = 0
    for number, line in lines:
        if not texts:
            start = number
        texts.append(line)
        size += len(line) + 1
        if size >= TEXT_BLOCK:
            blocks.append(_block(start, texts))
            texts, size = [], 0
    if any(line.strip() for line in texts):
        blocks.append(_block(start, texts))
    return blocks


def is_jsonl(content: bytes) -> bool:
    """Whether the first non-blank line of ``content`` is a JSON object."""
    for line in content.split(b"\n", 64)[:64]:
        if line.strip():
            return line.lstrip().startswith(b"{")
    return False


def _block(start: int, lines: list[str]) -> Example:
    text = "\n".join(lines)
    return Example(start, (text, *hidden_texts(text)))


def _utf8(content: bytes) -> str:
    """UTF-8, a byte-order mark allowed (editors on Windows write one)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8() from exc


def not_utf8() -> BadRequest:
    """The refusal of a JSONL upload that is not UTF-8."""
    return BadRequest(
        "The file is not UTF-8 text (expected JSONL).", param="file", code="invalid_file_format"
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        keys = [key for key, _ in pairs]
        repeated = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise _LineProblem(f"the key {json.dumps(repeated[:40])} appears twice in one object")
    return record


def _record(line: str) -> tuple[dict[str, Any], list[str] | None]:
    """The line's object, and its contents if it has the plain chat shape."""
    record, plain = _fast_load(line)
    if record is None:
        record = _checked_load(line)
        if not isinstance(record, dict):
            raise _LineProblem("not a JSON object")
        plain = _plain_contents(record)
    if plain is None and _depth(record) > MAX_DEPTH:
        raise _LineProblem("nested too deeply")
    if _SURROGATE_ESCAPE.search(line) and any(
        _SURROGATE.search(text) for text in walk_strings(record)
    ):
        raise _LineProblem("holds an unpaired UTF-16 surrogate escape")
    return record, plain


def _fast_load(line: str) -> tuple[dict[str, Any] | None, list[str] | None]:
    """The line's object parsed by msgspec (several times faster than ``json``) and its
    plain contents, when it surely holds no repeated key; (None, None) to let
    ``_checked_load`` decide (and word the problem) for anything else: invalid JSON, deep
    nesting, lone surrogates, a possible repeated key (which msgspec would silently
    resolve to the last value)."""
    try:
        record: Any = _DECODE(line)
    except (msgspec.MsgspecError, RecursionError):
        return None, None
    if not isinstance(record, dict):
        return None, None
    plain = _plain_contents(record)
    keys = 1 + sum(map(len, record["messages"])) if plain is not None else _key_count(record)
    if keys != len(_KEY_END.findall(line)):
        return None, None
    return record, plain


class _Message(msgspec.Struct, forbid_unknown_fields=True):
    role: str
    content: str
    weight: int | float | bool | UnsetType | None = UNSET


class _Plain(msgspec.Struct, forbid_unknown_fields=True):
    messages: list[_Message]


_DECODE_PLAIN = msgspec.json.Decoder(_Plain).decode
_NO_RECORD: dict[str, Any] = {}
"""The record ``_texts`` is given with a plain line's contents (it reads only those)."""


def _plain_line(line: str) -> tuple[list[str], bool] | None:
    """A line of the common shape (``_plain_contents``) decoded straight into its
    contents, and whether it has an assistant message; None for anything else (the
    general path then decides). Typed decoding checks the shape in msgspec, not per
    message in Python: about four times faster than ``_fast_load`` for such lines,
    with the same answer (a property test holds the two paths equal). A lone surrogate
    escape or a possible repeated key goes the general way."""
    try:
        messages = _DECODE_PLAIN(line).messages
    except (msgspec.MsgspecError, RecursionError):
        return None
    contents: list[str] = []
    keys, assistant = 1, False
    for message in messages:
        role = message.role
        if role not in ROLES:
            return None
        assistant = assistant or role == "assistant"
        contents.append(message.content)
        keys += 2 if message.weight is UNSET else 3
    if keys != len(_KEY_END.findall(line)) or _SURROGATE_ESCAPE.search(line):
        return None
    return contents, assistant


def _check_plain(contents: list[str], assistant: bool) -> None:
    """``_check_chat`` of a plain line (``_plain_line``)."""
    if not contents:
        raise _LineProblem(_NO_MESSAGES)
    if not assistant:
        raise _LineProblem(_NO_ASSISTANT)


def _key_count(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(child for child in item.values() if isinstance(child, dict | list))
        elif isinstance(item, list):
            stack.extend(child for child in item if isinstance(child, dict | list))
    return count


def _checked_load(line: str) -> Any:
    """``json`` with every object's keys checked for repeats."""
    try:
        record: Any = json.loads(line, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise _LineProblem("nested too deeply") from None
    except _LineProblem:
        raise
    except ValueError:
        raise _LineProblem("not valid JSON") from None
    return record


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _check_chat(record: dict[str, Any], plain: list[str] | None = None) -> None:
    """A training example in one of OpenAI's formats: supervised (``messages`` with an
    assistant message), preference (``input.messages``, ``preferred_output``,
    ``non_preferred_output``) or reinforcement (``messages``, the prompt, beside the
    grader's reference fields). ``plain``: the record's contents when
    ``_plain_contents`` accepted its shape (every message then has a known role and
    string content: only the list's size and the assistant are left to check)."""
    if "input" in record and "messages" not in record:
        _check_preference(record)
        return
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _LineProblem(_NO_MESSAGES)
    if plain is None:
        _check_messages(messages, "messages")
    # A reinforcement example's messages are the prompt: the answer is the grader's.
    if len(record) == 1 and not any(m.get("role") == "assistant" for m in messages):
        raise _LineProblem(_NO_ASSISTANT)


def _check_preference(record: dict[str, Any]) -> None:
    source = record.get("input")
    messages = source.get("messages") if isinstance(source, dict) else None
    if not isinstance(messages, list) or not messages:
        raise _LineProblem("'input.messages' must be a non-empty list")
    _check_messages(messages, "input.messages")
    for key in ("preferred_output", "non_preferred_output"):
        output = record.get(key)
        if not isinstance(output, list) or not output:
            raise _LineProblem(f"'{key}' must be a non-empty list of assistant messages")
        _check_messages(output, key)
        if any(message.get("role") != "assistant" for message in output):
            raise _LineProblem(f"'{key}' must hold assistant messages only")


def _check_messages(messages: list[Any], where: str) -> None:
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _LineProblem(f"{where}[{index}] is not an object")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:  # a list or object is unhashable
            raise _LineProblem(f"{where}[{index}].role must be one of {', '.join(sorted(ROLES))}")
        if not _valid_content(message.get("content"), message):
            raise _LineProblem(
                f"{where}[{index}].content must be a string or a list of text or image parts"
            )


def _valid_content(content: Any, message: dict[str, Any]) -> bool:
    if content is None:
        return bool(message.get("tool_calls") or message.get("function_call"))
    if isinstance(content, str):
        return True
    if isinstance(content, list) and content:
        return all(_valid_part(part) for part in content)
    return False


def _valid_part(part: Any) -> bool:
    """A text part, or an image part (vision fine-tuning): its URL is scanned like any
    string, a data URL's image is not text."""
    if not isinstance(part, dict):
        return False
    if isinstance(part.get("text"), str):
        return True
    image = part.get("image_url")
    return (
        part.get("type") == "image_url"
        and isinstance(image, dict)
        and isinstance(image.get("url"), str)
    )


def _texts(
    record: dict[str, Any],
    plain: list[str] | None = None,
    hidden: dict[str, list[str]] | None = None,
) -> tuple[str, ...]:
    """Every string of the record and the text hidden in each (decoded layers).

    The chat body walker (``gateway.pii.walker``) gives the content sites, in document
    order, with data URLs and base64 file data decoded. What it leaves out by design for
    chat (identifiers such as tool names, keys of fixed-schema objects) is still text a
    trainer reads, so every other string of the line follows, less the formats' own
    structure words. ``plain``: the record's contents when it has the common shape
    (``_plain_contents``), which the walker would give too. ``hidden``: the decoded
    layers of the texts met so far in this file, filled here (system prompts and stock
    questions repeat on every line; each is decoded once). The decoded layers come after
    all the strings, in order, so that pieces of a passage spread over several encoded
    strings (tool calls' JSON arguments) read on together, not cut by the raw strings.
    """
    texts: list[str] = []
    decoded: list[str] = []
    seen: set[str] = set()
    if plain is not None:
        strings: list[str] = plain
    else:
        sites = [site.text for site in walk(record) if site.kind != "binary"]
        strings = [*sites, *walk_strings(record)]
    for text in strings:
        if not text or text in STRUCTURE or text in seen:
            continue
        seen.add(text)
        texts.append(text)
        if len(text) < 8:
            continue
        if hidden is None:
            decoded.extend(hidden_texts(text))
            continue
        layers = hidden.get(text)
        if layers is None:
            layers = hidden[text] = hidden_texts(text)
        decoded.extend(layers)
    return (*texts, *decoded)


def _plain_contents(record: dict[str, Any]) -> list[str] | None:
    """The strings of the common shape ``{"messages": [{"role", "content": str,
    "weight"?}...]}`` in order, or None for any other shape.

    For this shape the walker's sites are the contents in order and every other string
    is a key or role in ``STRUCTURE``, so this gives what the general path gives, without
    its per-string path matching (a property test holds the two paths equal).
    """
    if len(record) != 1:
        return None
    messages = record.get("messages")
    if not isinstance(messages, list):
        return None
    contents: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or not message.keys() <= _PLAIN_MESSAGE_KEYS:
            return None
        content, role = message.get("content"), message.get("role")
        weight = message.get("weight")
        if not isinstance(content, str) or not isinstance(role, str) or role not in ROLES:
            return None
        if isinstance(weight, str | list | dict):
            return None
        contents.append(content)
    return contents
