"""The files stage: file ids a model request names become the upstream's, or a refusal.

Callers see the gateway's own file ids (``gateway.finetune.registry``); the upstream
knows only its own. Any ``file_id`` (a string) or ``file_ids`` (strings) anywhere in
the body names a file: a chat ``file`` part, a Responses ``input_file`` or
``input_image`` part, a function call's output parts, a prompt variable, a code
interpreter's ``container.file_ids``, an image mask, a citation: found by key, not by a
list of places, so a place the API adds later is covered too. ``metadata`` alone is the
caller's free-form map and names no file.

- Not the caller's, or an id the gateway never issued (an upstream id sent directly
  included): 404 ``file_not_found`` with the same message either way (no existence
  oracle), audited as ``refused: file_not_found`` with the id.
- The caller's, but still being scanned or refused by the scan: 400 ``file_not_ready``
  / the scan's refusal (the caller knows the file exists; it is theirs).
- ``gateway.file_inputs`` decides which purposes may be model input (403 otherwise,
  audited with the policy's reasons).
- Each file is then re-checked against the corpus as it is now, as a fine-tuning job's
  file is (``gateway.finetune.recheck``: the same code): text ingested as governed
  after the file's upload scan refuses it here as it would have refused the upload
  (403 ``finetune_data_governed``, reasons naming only documents the caller may
  retrieve, audited with the file id). Nothing is matched again while the corpus is
  unchanged since the file's last match.
- A Responses request continuing a conversation (``previous_response_id``) re-checks the
  files that conversation holds from earlier turns the same way (``recheck_held``); one
  deleted or unusable since is a 403 ``conversation_file_unavailable``, audited with its id.
- Otherwise every id is replaced by the upstream's, and the request record lists the
  files (gateway id, upstream id, purpose).

Inline file data (``file_data``, ``data:`` URLs) is not this stage's: the PII stage
decodes it, analyses its text like any other string, and refuses what it cannot read
unless the redaction policy allows binary content (``gateway.pii.walker``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from gateway.audit.records import FileInput
from gateway.errors import BadRequest, DependencyUnavailable, NotFound, PolicyDenied
from gateway.finetune.decisions import Caller as FinetuneCaller
from gateway.finetune.decisions import refusal
from gateway.finetune.registry import ERROR, PROCESSED, UPLOADED, FileEntry
from gateway.identity import Principal
from gateway.metrics import StageTimer
from gateway.pii.walker import Site, site_label, write_back
from gateway.pipeline.audit import request_record
from gateway.pipeline.ports import Ports
from gateway.pipeline.values import Authorized, Caller, FileDecision
from gateway.policy import FinetuneDecision

PACKAGE = "gateway.file_inputs"
_FREE_FORM = frozenset({"metadata"})

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class FileRef:
    """One file id the body names, and where."""

    path: Path
    file_id: str

    @property
    def label(self) -> str:
        return site_label(self.path)


class FileStore(Protocol):
    """The caller's own file by id (``gateway.finetune.registry.Registry.file``)."""

    async def file(self, owner: str, file_id: str) -> FileEntry | None: ...


class Rechecker(Protocol):
    """``gateway.finetune.recheck.FileRecheck``."""

    async def use(
        self, caller: FinetuneCaller, endpoint: str, model: str, entry: FileEntry
    ) -> FinetuneDecision: ...


class PolicyQuery(Protocol):
    """``gateway.policy.PolicyEngine.query``."""

    async def query(
        self, package: str, rule: str, input_data: dict[str, Any]
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FileInputs:
    """What the stage needs of the running gateway: the registry and the policy."""

    store: FileStore
    policy: PolicyQuery
    rechecker: Rechecker

    async def file(self, owner: str, file_id: str) -> FileEntry | None:
        return await self.store.file(owner, file_id)

    async def decide(
        self, principal: Principal, action: str, model: str, files: list[FileEntry]
    ) -> FileDecision:
        input_data = {
            "subject": principal.as_policy_input(),
            "action": action,
            "model": model,
            "files": [{"purpose": f.purpose, "status": f.status} for f in files],
        }
        response = await self.policy.query(PACKAGE, "decision", input_data)
        result = response["result"]
        if not isinstance(result, dict) or not isinstance(result.get("allow"), bool):
            raise DependencyUnavailable("opa", f"{PACKAGE}.decision has the wrong shape")
        return FileDecision(
            allow=result["allow"],
            reasons=tuple(sorted(str(r) for r in result.get("reasons") or ())),
            decision_id=response.get("decision_id"),
        )

    async def recheck(
        self, caller: Caller, endpoint: str, model: str, entry: FileEntry
    ) -> FinetuneDecision:
        finetune_caller = FinetuneCaller(caller.principal, caller.request_id)
        return await self.rechecker.use(finetune_caller, endpoint, model, entry)


def file_references(body: dict[str, Any]) -> list[FileRef]:
    """Every file id ``body`` names, in document order (400 for a non-string id)."""
    return list(_references(body, ()))


def _references(node: Any, path: Path) -> Iterator[FileRef]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*path, key)
            if not path and key in _FREE_FORM:
                continue
            if key == "file_id" and value is not None:
                yield _reference(here, value)
            elif key == "file_ids" and value is not None:
                if not isinstance(value, list):
                    raise _not_a_file_id(here, "an array of file ids")
                for index, item in enumerate(value):
                    yield _reference((*here, index), item)
            else:
                yield from _references(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, (*path, index))


def _reference(path: Path, value: Any) -> FileRef:
    if not isinstance(value, str):
        raise _not_a_file_id(path, "a file id (a string)")
    return FileRef(path, value)


def _not_a_file_id(path: Path, what: str) -> BadRequest:
    label = site_label(path)
    return BadRequest(f"'{label}' must be {what}.", param=label, code="invalid_type")


def not_found(ref: FileRef) -> NotFound:
    """The one answer for another caller's file and for no file at all."""
    return NotFound(f"No such File object: {ref.file_id}", param=ref.label, code="file_not_found")


async def resolve_files(ports: Ports, authorized: Authorized, timer: StageTimer) -> Authorized:
    """The call with upstream file ids in place of the caller's, or an audited refusal."""
    refs = file_references(authorized.call.body)
    if not refs:
        return authorized
    owner = authorized.caller.principal.subject
    entries: dict[str, FileEntry] = {}
    with timer.stage("authorize"):
        for ref in refs:
            if ref.file_id in entries:
                continue
            entry = await ports.files.file(owner, ref.file_id) if ports.files else None
            if entry is None:
                await _refuse(ports, authorized, not_found(ref), file_id=ref.file_id)
            problem = _unusable(entry, ref)
            if problem is not None:
                await _refuse(ports, authorized, problem, file_id=ref.file_id)
            entries[ref.file_id] = entry
        assert ports.files is not None
        call = authorized.call
        decision = await ports.files.decide(
            authorized.caller.principal, call.endpoint.action, call.model, list(entries.values())
        )
        used = [_file_input(entry) for entry in entries.values()]
        if decision.allow:
            await _recheck(ports, authorized, refs, entries, used)
    if not decision.allow:
        await _deny(ports, authorized, PolicyDenied.because(decision.reasons), decision, used)
    upstream = {Site(ref.path, ref.file_id): str(entries[ref.file_id].upstream_id) for ref in refs}
    body = write_back(call.body, upstream)
    call = dataclasses.replace(call, body=body, files=tuple(used))
    return dataclasses.replace(authorized, call=call)


async def _recheck(
    ports: Ports,
    authorized: Authorized,
    refs: list[FileRef],
    entries: dict[str, FileEntry],
    used: list[FileInput],
) -> None:
    """Each file against the corpus as it is now: an audited 403 for the first refused."""
    for file_id, entry in entries.items():
        label = next(ref.label for ref in refs if ref.file_id == file_id)
        await _recheck_one(ports, authorized, entry, label, used)


async def _recheck_one(
    ports: Ports, authorized: Authorized, entry: FileEntry, label: str, used: list[FileInput]
) -> None:
    assert ports.files is not None
    call = authorized.call
    decision = await ports.files.recheck(authorized.caller, call.endpoint.action, call.model, entry)
    if not decision.allow:
        refused = refusal(decision, "File input refused by policy", param=label)
        await _deny(ports, authorized, refused, decision, used, file_id=entry.id)


async def recheck_held(
    ports: Ports, authorized: Authorized, held: Sequence[str], param: str, timer: StageTimer
) -> None:
    """Files a continued conversation holds from earlier turns, re-checked as if named again.

    The upstream keeps their text in the conversation, so each is matched against the
    corpus as it is now (the same audited 403 as a named file; one named again by this
    request was re-checked already). A held file deleted since, or not processed, cannot
    be checked: an audited 403 asking for a new conversation (fail closed)."""
    named = {file["file_id"] for file in authorized.call.files}
    owner = authorized.caller.principal.subject
    used = list(authorized.call.files)
    with timer.stage("authorize"):
        for file_id in held:
            if file_id in named:
                continue
            entry = await ports.files.file(owner, file_id) if ports.files else None
            if entry is None or entry.status != PROCESSED or not entry.upstream_id:
                await _refuse(ports, authorized, _held_unusable(file_id, entry, param), file_id)
            await _recheck_one(ports, authorized, entry, param, used)


def _held_unusable(file_id: str, entry: FileEntry | None, param: str) -> PolicyDenied:
    why = "was deleted" if entry is None else f"has status '{entry.status}'"
    return PolicyDenied(
        f"The file {file_id}, held by this conversation from an earlier turn, {why}, so its "
        "text cannot be checked again; start a new conversation (without "
        f"'{param}').",
        param=param,
        code="conversation_file_unavailable",
    )


async def _deny(
    ports: Ports,
    authorized: Authorized,
    exc: PolicyDenied,
    decision: FileDecision | FinetuneDecision,
    used: list[FileInput],
    file_id: str | None = None,
) -> NoReturn:
    """One request record for a policy's refusal over the files, then the error."""
    record = request_record(authorized, allowed=False)
    record["denial_reasons"] = list(decision.reasons)
    if decision.decision_id:
        record["policy_decision_ids"] = [
            *record.get("policy_decision_ids", []),
            decision.decision_id,
        ]
    record["files"] = used
    if file_id is not None:  # the file re-checked and refused
        record["refused"], record["status"], record["file_id"] = (
            exc.code,
            exc.status_code,
            file_id,
        )
    await ports.audit.append("request", dict(record))
    ports.metrics.requests.labels(outcome="denied").inc()
    raise exc


def _unusable(entry: FileEntry, ref: FileRef) -> BadRequest | PolicyDenied | None:
    """Why the caller's own file cannot be sent yet (or ever), if it cannot."""
    if entry.status == UPLOADED:
        return BadRequest(
            f"The file {entry.id} is still being scanned (status 'uploaded'); use it once "
            "its status is 'processed'.",
            param=ref.label,
            code="file_not_ready",
        )
    if entry.status == ERROR:
        message = f"The file {entry.id} was refused: {entry.status_details}"
        if entry.error_status == 403:
            return PolicyDenied(message, param=ref.label, code="finetune_file_refused")
        return BadRequest(message, param=ref.label, code=entry.error_code or "invalid_file")
    if entry.status != PROCESSED or not entry.upstream_id:
        return BadRequest(
            f"The file {entry.id} is not stored upstream (status '{entry.status}').",
            param=ref.label,
            code="file_not_ready",
        )
    return None


async def _refuse(
    ports: Ports, authorized: Authorized, exc: BadRequest | NotFound | PolicyDenied, file_id: str
) -> NoReturn:
    """One request record for the refusal, then the error."""
    record = request_record(authorized, allowed=False)
    record["refused"], record["status"], record["file_id"] = exc.code, exc.status_code, file_id
    await ports.audit.append("request", dict(record))
    ports.metrics.requests.labels(outcome="denied").inc()
    raise exc


def _file_input(entry: FileEntry) -> FileInput:
    return {
        "file_id": entry.id,
        "upstream_file_id": str(entry.upstream_id),
        "purpose": entry.purpose,
    }
