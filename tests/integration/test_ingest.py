"""``gateway ingest`` against the real Elasticsearch: index, skip, replace, prune, fail."""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from gateway.elastic import ChunkIndex
from gateway.ingest.cli import app
from gateway.ingest.manifest import load_manifest
from gateway.ingest.pipeline import IngestOptions, IngestReport, run_ingest
from gateway.pii.analyzer import PresidioAnalyzer
from gateway.settings import Settings

from ..fixtures.ingest.support import MANIFEST, copy_docs, make_pdf, shared_analyzer

pytestmark = pytest.mark.integration

CORPUS = "acme-test"
ALL_DOCS = {
    "acme-vacation",
    "handbook/faq.txt",
    "security/runbook.html",
    "contact-emea",
    "contact-apac",
    "reports/q3.pdf",
}


@pytest.fixture(scope="module")
def analyzer() -> PresidioAnalyzer:
    return shared_analyzer()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A writable copy of the fixture corpus, plus a generated PDF."""
    folder = copy_docs(tmp_path / "docs")
    (folder / "reports").mkdir()
    make_pdf(folder / "reports" / "q3.pdf", ["Revenue grew 12 percent in Q3."], title="Q3")
    return folder


@pytest.fixture
def settings(settings_for: Any) -> Settings:
    return settings_for()


async def ingest(
    settings: Settings,
    analyzer: PresidioAnalyzer,
    paths: Sequence[Path],
    *,
    manifest: Path = MANIFEST,
    prune: bool = False,
) -> IngestReport:
    options = IngestOptions(
        corpus=CORPUS,
        manifest=load_manifest(manifest),
        prune=prune,
        chunk_tokens=32,  # small, so documents span several chunks
        overlap=8,
        batch_chunks=5,  # several flushes per run
    )
    async with ChunkIndex.from_settings(settings) as index:
        return await run_ingest(paths, options, index=index, analyzer=analyzer)


def stored(settings: Settings, stack_env: dict[str, str]) -> list[dict[str, Any]]:
    """Every chunk of the corpus as Elasticsearch holds it."""
    response = httpx.post(
        f"{stack_env['GATEWAY_ELASTICSEARCH_URL']}/{settings.index_prefix}-chunks-v1/_search",
        json={"size": 1000, "query": {"term": {"corpus": CORPUS}}, "sort": ["chunk_id"]},
        auth=(
            stack_env.get("GATEWAY_ELASTICSEARCH_USERNAME", ""),
            stack_env.get("GATEWAY_ELASTICSEARCH_PASSWORD", ""),
        ),
    )
    response.raise_for_status()
    return [hit["_source"] for hit in response.json()["hits"]["hits"]]


def by_doc(chunks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    docs: dict[str, list[dict[str, Any]]] = {}
    for chunk in chunks:
        docs.setdefault(chunk["doc_id"], []).append(chunk)
    return docs


async def test_mixed_folder_is_indexed_with_governance_and_pii(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """Every format is indexed, each chunk with its governance fields and PII spans."""
    report = await ingest(settings, analyzer, [docs])
    assert report.ok, report.problems
    assert (report.files_seen, report.indexed, report.skipped) == (5, 6, 0)
    chunks = stored(settings, stack_env)
    assert report.chunks_written == len(chunks) == report.presidio.chunks
    documents = by_doc(chunks)
    assert set(documents) == ALL_DOCS
    assert len(documents["acme-vacation"]) > 1
    runbook = documents["security/runbook.html"]
    assert {c["classification"] for c in runbook} == {"confidential"}
    assert {tuple(c["allowed_groups"]) for c in runbook} == {("security",)}
    assert runbook[0]["source_uri"] == "https://wiki.acme.example/security/runbook.html"
    assert documents["contact-emea"][0]["allowed_users"] == ["carol"]
    assert documents["contact-emea"][0]["classification"] == "restricted"
    assert documents["acme-vacation"][0]["allowed_groups"] == ["*"]
    persons = {
        chunk["text"][span["start"] : span["end"]]
        for chunk in runbook
        for span in chunk["pii"]
        if span["type"] == "PERSON"
    }
    assert "Marcus Lindqvist" in persons
    for document in documents.values():
        ordered = sorted(document, key=lambda c: c["chunk_index"])
        assert [c["chunk_index"] for c in ordered] == list(range(len(ordered)))
        assert len({c["doc_version"] for c in ordered}) == 1
        assert all(c["token_count"] <= 32 for c in ordered)
        assert ordered[0]["start"] == 0


async def test_reingest_is_a_no_op(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """Ingesting the same input again skips every document: no writes, no Presidio."""
    await ingest(settings, analyzer, [docs])
    before = stored(settings, stack_env)
    report = await ingest(settings, analyzer, [docs])
    assert report.ok
    assert (report.skipped, report.indexed, report.replaced) == (6, 0, 0)
    assert (report.chunks_written, report.chunks_deleted, report.presidio.chunks) == (0, 0, 0)
    assert stored(settings, stack_env) == before


async def test_changed_file_replaces_its_chunks(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """A changed file's old chunks are gone, its new ones present, created_at kept."""
    await ingest(settings, analyzer, [docs])
    old = by_doc(stored(settings, stack_env))["handbook/faq.txt"]
    faq = docs / "handbook" / "faq.txt"
    faq.write_text(faq.read_text() + "\nIs there parking? Yes, ask reception for a badge.\n")
    report = await ingest(settings, analyzer, [docs])
    assert (report.replaced, report.skipped, report.indexed) == (1, 5, 0)
    assert report.chunks_deleted == len(old)
    new = by_doc(stored(settings, stack_env))["handbook/faq.txt"]
    assert {c["doc_version"] for c in new} != {c["doc_version"] for c in old}
    assert len({c["doc_version"] for c in new}) == 1
    assert not {c["chunk_id"] for c in old} & {c["chunk_id"] for c in new}
    assert "parking" in new[-1]["text"] or any("parking" in c["text"] for c in new)
    assert {c["created_at"] for c in new} == {old[0]["created_at"]}


async def test_governance_change_alone_replaces_the_chunks(
    settings: Settings,
    stack_env: dict[str, str],
    analyzer: PresidioAnalyzer,
    docs: Path,
    tmp_path: Path,
) -> None:
    """Narrowing a document's access in the manifest re-indexes it with the new groups."""
    await ingest(settings, analyzer, [docs])
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["files"][1]["allowed_groups"] = ["engineering"]  # the vacation policy
    edited = tmp_path / "manifest.yaml"
    edited.write_text(yaml.safe_dump(manifest))
    report = await ingest(settings, analyzer, [docs], manifest=edited)
    assert (report.replaced, report.skipped) == (1, 5)
    vacation = by_doc(stored(settings, stack_env))["acme-vacation"]
    assert {tuple(c["allowed_groups"]) for c in vacation} == {("engineering",)}


async def test_prune_removes_a_deleted_files_document(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """With --prune, a document whose file is gone is deleted; the others stay."""
    await ingest(settings, analyzer, [docs])
    (docs / "handbook" / "faq.txt").unlink()
    report = await ingest(settings, analyzer, [docs], prune=True)
    assert (report.pruned, report.skipped, report.prune) == (1, 5, "done")
    assert set(by_doc(stored(settings, stack_env))) == ALL_DOCS - {"handbook/faq.txt"}


async def test_without_prune_deleted_files_stay(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """Without --prune, documents absent from the input are left alone."""
    await ingest(settings, analyzer, [docs])
    (docs / "handbook" / "faq.txt").unlink()
    report = await ingest(settings, analyzer, [docs])
    assert (report.pruned, report.prune) == (0, "off")
    assert set(by_doc(stored(settings, stack_env))) == ALL_DOCS


async def test_bad_files_are_reported_while_the_rest_is_indexed(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """A corrupt PDF and a bad JSONL line are named; every other document is indexed."""
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    with (docs / "contacts.jsonl").open("a") as handle:
        handle.write('{"doc_id": "contact-bad", "text": "x", "classification": "secret"}\n')
    report = await ingest(settings, analyzer, [docs])
    assert not report.ok
    assert sorted(str(p) for p in report.problems) == [
        "broken.pdf: not a readable PDF (PdfStreamError)",
        "contacts.jsonl:3: classification: must be one of public, internal, "
        "confidential, restricted",
    ]
    assert report.indexed == 6
    assert set(by_doc(stored(settings, stack_env))) == ALL_DOCS


async def test_prune_is_skipped_when_input_failed(
    settings: Settings, stack_env: dict[str, str], analyzer: PresidioAnalyzer, docs: Path
) -> None:
    """An unreadable file could hide documents: prune then deletes nothing."""
    await ingest(settings, analyzer, [docs])
    (docs / "reports" / "q3.pdf").write_bytes(b"%PDF-1.4\ntruncated")
    report = await ingest(settings, analyzer, [docs], prune=True)
    assert report.prune.startswith("skipped")
    assert report.pruned == 0
    assert "reports/q3.pdf" in by_doc(stored(settings, stack_env))


def test_cli_prints_a_summary_without_content(
    settings: Settings,
    stack_env: dict[str, str],
    docs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command indexes the folder, prints JSON counts and exits 0, then 1 on a bad file.

    The summary names files and counts only: no chunk text, no PII values.
    """
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GATEWAY_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("GATEWAY_AUDIT_DIR", str(settings.audit_dir))
    args = [str(docs), "--corpus", CORPUS, "--manifest", str(MANIFEST), "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["documents"] == {"indexed": 6, "replaced": 0, "skipped": 0, "pruned": 0}
    assert summary["presidio"]["chars_per_second"] > 0
    (docs / "notes.docx").write_bytes(b"PK")
    second = CliRunner().invoke(app, args[:-1])  # human summary this time
    assert second.exit_code == 1
    assert "notes.docx: unsupported file type '.docx'" in second.stdout
    assert "6 skipped" in second.stdout
    for output in (first.output, second.output):
        assert "Marcus Lindqvist" not in output
        assert "212-555" not in output
