"""The upload scan searches fingerprints pass by pass, while it fingerprints the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway import fingerprint
from gateway.elastic import ChunkIndex
from gateway.finetune.matcher import CorpusMatcher, MatchSession
from gateway.finetune.scan import UploadScanner, read_examples
from gateway.finetune.units import units_of
from gateway.settings import Settings

from ..conftest import DEMO_CORPUS
from .conftest import ingest_demo

pytestmark = pytest.mark.integration


def _upload() -> bytes:
    """Passages of every demo document, one per example, between unrelated lines."""
    lines: list[str] = []
    for path in sorted(DEMO_CORPUS.glob("*.md")):
        words = path.read_text(encoding="utf-8").split()
        for start in range(0, len(words), 40):
            passage = " ".join(words[start : start + 60])
            for answer in (passage, "Unrelated small talk about the weather and the tea."):
                record = {
                    "messages": [
                        {"role": "user", "content": "Tell me."},
                        {"role": "assistant", "content": answer},
                    ]
                }
                lines.append(json.dumps(record) + "\n")
    return "".join(lines).encode()


async def test_a_scan_in_many_passes_finds_what_one_search_finds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With passes of a few hundred characters, chunks found early are excluded from
    later searches, yet each pair's shared count and score equal one search's."""
    content = _upload()
    passes: list[int] = []
    look_for = MatchSession.look_for

    async def counted(self: MatchSession, prints: Any) -> None:
        passes.append(len(prints))
        await look_for(self, prints)

    async with ChunkIndex.from_settings(settings) as index:
        await ingest_demo(index)
        await index.client.indices.refresh(index=index.name)
        matcher = CorpusMatcher(index.client, index.name, batch=64)
        examples = read_examples(content, "fine-tune")
        assert examples is not None
        expected, documents = await matcher.overlaps(units_of(examples))
        monkeypatch.setattr(fingerprint, "_BATCH_CHARS", 300)
        monkeypatch.setattr(MatchSession, "look_for", counted)
        scan = await UploadScanner(matcher, None).scan(content)
    assert len(passes) > 5  # the passes, then what the segments added
    assert expected
    assert sorted(scan.overlaps, key=repr) == sorted(expected, key=repr)
    assert scan.documents == documents
