import json
import os
import random
import string
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gateway.pii.analyzer import PiiEngineError, PresidioAnalyzer, spacy_model_path
from gateway.pii.identifier_forms import WHOLE_TOKEN_TYPES
from tests.conftest import REPO
from tests.fixtures.ingest.support import network_blocked, shared_analyzer

SENTENCE = "Please call John Smith at 212-555-0123 or email john.smith@example.com today."


@pytest.fixture(scope="module")
def analyzer() -> PresidioAnalyzer:
    return shared_analyzer()


def found(text: str, spans: list[dict[str, object]]) -> dict[str, str]:
    return {str(s["type"]): text[int(str(s["start"])) : int(str(s["end"]))] for s in spans}


def test_person_email_and_phone_spans(analyzer: PresidioAnalyzer) -> None:
    """A person, an email and a phone number are found with offsets into the chunk."""
    [spans] = analyzer.analyze([SENTENCE])
    by_type = found(SENTENCE, [dict(s) for s in spans])
    assert by_type["PERSON"] == "John Smith"
    assert by_type["EMAIL_ADDRESS"] == "john.smith@example.com"
    assert by_type["PHONE_NUMBER"] == "212-555-0123"
    assert all(0 < span["score"] <= 1 for span in spans)
    assert [s["start"] for s in spans] == sorted(s["start"] for s in spans)


def test_batches_keep_their_order(analyzer: PresidioAnalyzer) -> None:
    """Each text of a batch gets its own spans, in input order; clean text gets none."""
    texts = ["Nothing personal here.", SENTENCE, "Mail ann@example.org please."]
    results = analyzer.analyze(texts)
    assert len(results) == 3
    assert not any(s["type"] == "EMAIL_ADDRESS" for s in results[0])
    assert found(texts[2], [dict(s) for s in results[2]])["EMAIL_ADDRESS"] == "ann@example.org"


def test_analysis_opens_no_socket(analyzer: PresidioAnalyzer) -> None:
    """Emails and URLs are analysed without any network access (no suffix-list fetch)."""
    text = "Write to dana@acme.co.uk, see https://docs.example.org/a or ops@acme.internal."
    with network_blocked() as attempts:
        [spans] = analyzer.analyze([text])
    assert attempts == []
    emails = {
        text[s["start"] : s["end"]]: s["score"] for s in spans if s["type"] == "EMAIL_ADDRESS"
    }
    assert emails["dana@acme.co.uk"] == 1.0
    # Not a public suffix: kept at the pattern's lower score rather than dropped.
    assert 0 < emails["ops@acme.internal"] < 1.0
    assert any(s["type"] == "URL" for s in spans)


def test_fresh_process_loads_and_analyses_without_network(tmp_path: Path) -> None:
    """A new process with sockets blocked and an empty tldextract cache never connects.

    In a subprocess because tldextract's stock extractor fetches once per process and
    then remembers: in this process an earlier test may already have triggered it.
    """
    script = textwrap.dedent(
        """
        import json, sys
        from tests.fixtures.ingest.support import network_blocked
        from gateway.pii.analyzer import PresidioAnalyzer
        text = "Mail john.smith@example.com or see https://docs.example.org/a"
        with network_blocked() as attempts:
            analyzer = PresidioAnalyzer()
            analyzer.load()
            [spans] = analyzer.analyze([text])
        print(json.dumps({"attempts": [repr(a) for a in attempts], "spans": spans}))
        """
    )
    env = {**os.environ, "TLDEXTRACT_CACHE": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["attempts"] == []
    assert {"EMAIL_ADDRESS", "URL"} <= {span["type"] for span in result["spans"]}
    assert list(tmp_path.iterdir()) == [], "nothing cached on disk either"


def test_model_is_loaded_from_the_installed_package() -> None:
    """The spaCy model path is the installed package's data directory."""
    path = spacy_model_path()
    assert (path / "config.cfg").is_file()
    assert (path / "meta.json").is_file()


def test_missing_model_package_is_a_clear_error() -> None:
    """A missing model package is reported, never downloaded."""
    with pytest.raises(PiiEngineError, match="not installed"):
        spacy_model_path("no_such_spacy_model_package")


def test_model_package_without_data_is_refused() -> None:
    """A package whose data directory is missing is refused rather than fetched."""
    with pytest.raises(PiiEngineError):
        PresidioAnalyzer(model_package="json").load()


LEAN_CHECK_TEXTS = [
    SENTENCE,
    "Maria Lopez met Pierre Dubois in Paris on March 3, 2025; her SSN is 078-05-1120.",
    "Card 4111 1111 1111 1111 expires soon, phone number +44 20 7946 0958, IP 10.0.0.7.",
    "The on-call engineer Aiko Tanaka escalates to Olena Shevchenko in Berlin after 10pm.",
    "Then phoning 078-05-1120 about the cards of Dana Whitfield, Seattle.",
    "Nothing personal at all: a runbook step that restarts the indexing service.",
]


def _where(spans: list[list[Any]]) -> list[list[tuple[str, int, int]]]:
    return [[(s["type"], s["start"], s["end"]) for s in text_spans] for text_spans in spans]


def test_lean_pipeline_finds_the_spans_the_full_pipeline_finds(
    analyzer: PresidioAnalyzer,
) -> None:
    """Callers' messages: NER alone finds exactly the full pipeline's spans."""
    from gateway.pii import analyzer as pii

    lean = PresidioAnalyzer(lean=True)
    lean.load()
    nlp = lean._batch.analyzer_engine.nlp_engine.nlp[pii.LANGUAGE]
    assert nlp.pipe_names == ["ner", pii.LOWERCASE_LEMMA_COMPONENT]
    full_spans = analyzer.analyze(LEAN_CHECK_TEXTS)
    assert sum(map(len, full_spans)) >= 10
    assert _where(lean.analyze(LEAN_CHECK_TEXTS)) == _where(full_spans)


def test_ingest_and_finetune_scores_come_from_the_full_pipeline(
    analyzer: PresidioAnalyzer,
) -> None:
    """The default engine lemmatizes: an inflected context word ("phoning") still raises
    a phone number's score over the fine-tune scan's 0.5 threshold."""
    from gateway.pii import analyzer as pii

    nlp = analyzer._batch.analyzer_engine.nlp_engine.nlp[pii.LANGUAGE]
    assert {"parser", "lemmatizer"} <= set(nlp.pipe_names)
    text = "Then phoning 078-05-1120."
    [spans] = analyzer.analyze([text])
    phone = [s for s in spans if s["type"] == "PHONE_NUMBER"]
    assert phone
    assert phone[0]["score"] >= 0.5


def test_lean_pipelines_default_tokenizer_is_the_models_own() -> None:
    """The lean pipeline skips reading the model's tokenizer: spaCy's English defaults
    must serialise to exactly the bytes the installed model saved."""
    from gateway.pii import analyzer as pii
    from gateway.pii.spacy_import import import_spacy

    spacy = import_spacy()
    saved = spacy.load(pii.spacy_model_path(), exclude=list(pii.SPACY_UNUSED_COMPONENTS))
    lean = pii._lean_spacy_pipeline(pii.spacy_model_path())
    assert lean.tokenizer.to_bytes() == saved.tokenizer.to_bytes()


def test_a_package_pinned_to_a_version_is_no_email_address() -> None:
    """A package pinned to a version ("lodash@4.17.21": the last label is all digits) is
    dropped; an address on an internal domain is kept at the pattern's score."""
    from gateway.pii.analyzer import offline_email_recognizer

    recognizer = offline_email_recognizer()
    assert recognizer.validate_result("lodash@4.17.21") is False
    assert recognizer.validate_result("ann@build.acme.corp") is None
    assert recognizer.validate_result("ann@example.com") is True


def test_a_phone_starting_a_line_is_found_for_chat(analyzer: PresidioAnalyzer) -> None:
    """Chat's redaction sees a phone number that starts a line (a signature, an address
    block): the word ending the line before is no part of it."""
    text = "Best wishes,\nAnna Smith\n+44 7911 123456\nLeeds"
    [spans] = analyzer.analyze([text])
    assert found(text, [dict(s) for s in spans]).get("PHONE_NUMBER") == "+44 7911 123456"


def test_a_phone_after_a_literal_escape_is_found_for_chat(analyzer: PresidioAnalyzer) -> None:
    """A prompt quoting code or twice-encoded JSON: the escape's letter is no part of
    the number after it."""
    text = 'Fix this: print("Anna\\n+44 7911 123456")'
    [spans] = analyzer.analyze([text])
    assert found(text, [dict(s) for s in spans]).get("PHONE_NUMBER") == "+44 7911 123456"


def test_numbers_on_escaped_lines_do_not_join(analyzer: PresidioAnalyzer) -> None:
    """Three numbers on three escaped lines are not one phone number."""
    text = 'rows = "415\\n867\\n5309"'
    [spans] = analyzer.analyze([text])
    phones = [s for s in spans if s["type"] == "PHONE_NUMBER"]
    assert all(s["end"] - s["start"] <= 4 and s["score"] < 0.4 for s in phones)


@pytest.mark.parametrize(
    ("text", "kind", "span"),
    [
        ("cb?tel=%2B447911123456&x=1", "PHONE_NUMBER", "%2B447911123456"),
        ('{"a": "call 07911\\u00a0123456"}', "PHONE_NUMBER", "07911\\u00a0123456"),
        ("<b>&#43;44 7911 123456</b>", "PHONE_NUMBER", "&#43;44 7911 123456"),
        ("Mob.07911 123456 any time", "PHONE_NUMBER", "07911 123456"),
        ("Her SSN: 536228726.", "US_SSN", "536228726"),
    ],
)
def test_hidden_forms_are_masked_whole_for_chat(
    analyzer: PresidioAnalyzer, text: str, kind: str, span: str
) -> None:
    """Chat sees an identifier behind an escape, a tight abbreviated key or its label
    alone, and its span covers the escapes it is written with (redaction replaces them)."""
    [spans] = analyzer.analyze([text])
    assert found(text, [dict(s) for s in spans]).get(kind) == span


def test_hex_digests_reach_the_model_whole(analyzer: PresidioAnalyzer) -> None:
    """Hex digests hold identifier-shaped runs by chance (one SHA-256 in thirty holds two
    letters and seven digits, Presidio's DEA pattern): none is cut out of its token."""
    rng = random.Random(5)
    texts = []
    for _ in range(40):
        # Two hex letters and seven digits somewhere inside, as chance puts them.
        inner = "".join(rng.choices("abcdef", k=2) + rng.choices(string.digits, k=7))
        before = "".join(rng.choices("0123456789abcdef", k=rng.randint(1, 20)))
        after = "".join(rng.choices("0123456789abcdef", k=rng.randint(1, 20)))
        texts.append(f"Deployed commit {before}{inner}{after} to staging.")
    for text, spans in zip(texts, analyzer.analyze(texts), strict=True):
        assert [s for s in spans if s["type"] in WHOLE_TOKEN_TYPES] == [], text


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("SSN536228726", "US_SSN", "536228726"),
        ("Passport912803456", "US_PASSPORT", "912803456"),
        ("Passport №912803456", "US_PASSPORT", "912803456"),
    ],
)
def test_a_number_glued_to_its_label_is_still_found(
    analyzer: PresidioAnalyzer, text: str, kind: str, value: str
) -> None:
    """The label names the number however tight it is written (PDF and OCR text, joined
    form fields): only Presidio's own findings must stand as a token."""
    [spans] = analyzer.analyze([text])
    assert found(text, [dict(s) for s in spans]).get(kind) == value


def test_a_dea_number_standing_alone_is_still_found(analyzer: PresidioAnalyzer) -> None:
    text = "Prescriber DEA number AB1234563 on the form."
    [spans] = analyzer.analyze([text])
    assert found(text, [dict(s) for s in spans]).get("MEDICAL_LICENSE") == "AB1234563"


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("我的社会安全号码是536-22-8726。", "US_SSN", "536-22-8726"),
        ("NHS番号943 476 5919です。", "UK_NHS", "943 476 5919"),
        ("请发邮件到anna.li@example.com谢谢", "EMAIL_ADDRESS", "anna.li@example.com"),
    ],
)
def test_identifiers_inside_cjk_text_are_found_exactly(
    analyzer: PresidioAnalyzer, text: str, kind: str, value: str
) -> None:
    """Chinese and Japanese write no space around a number or an address: it is still a
    token of its own, and its span holds no CJK character."""
    [spans] = analyzer.analyze([text])
    assert found(text, [dict(s) for s in spans]).get(kind) == value


def test_no_span_joins_numbers_across_cjk_letters(analyzer: PresidioAnalyzer) -> None:
    """A CJK letter between two numbers separates them: an order and a date ("8275821903
    已于16.12.2021"), a build and a day, are no spaced phone number across it."""
    texts = ["订单号8275821903已于16.12.2021发货。", "ビルド169639529を7 March 2021にデプロイ。"]
    for text, spans in zip(texts, analyzer.analyze(texts), strict=True):
        structured = [s for s in spans if s["type"] not in ("DATE_TIME", "PERSON", "LOCATION")]
        assert structured
        assert all(text[s["start"] : s["end"]].isascii() for s in structured), text
