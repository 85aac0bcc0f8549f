"""The pattern-only PII lane: Presidio's pattern recognizers without spaCy.

When the fine-tune policy blocks or reports no NER type (names, places: see
``gateway.finetune.pii_plan``), the upload scan needs no language model: every
structured identifier the policy cares about (e-mail, card, IBAN, phone, SSN, IP
address, licence and passport numbers...) is found by a pattern with a checksum or
validation. This analyzer runs Presidio's own ``AnalyzerEngine`` over those recognizers,
with no NLP engine: Presidio's context words ("passport", "ip") raise scores as in the
full pipeline, but matched as whole words just before the match
(``gateway.finetune.pii_context``: "ip" no longer counts inside "pip"). It then adds
the gateway's own recognizers, judges checksum types by their form
(``gateway.pii.identifier_forms``) and maps spans back from the normalised view
(``gateway.pii.analyzer``'s ``_finish``). Building it takes well under a second and no
model is loaded.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from gateway.finetune.pii_context import PREFIX_WORDS, enhance, is_word
from gateway.finetune.pii_prefilter import Floor, TextChecks, prefilter
from gateway.finetune.pii_validators import quick_ip_check
from gateway.pii.analyzer import LANGUAGE, offline_email_recognizer, presidio_spans
from gateway.pii.identifier_forms import by_form, whole_tokens
from gateway.pii.labelled_ids import LABELLED_TYPES, find_labelled_ids
from gateway.pii.normalize import View, normalised
from gateway.pii.presidio_import import import_presidio
from gateway.pii.recognizers import find_addresses, find_cards, find_ibans, find_phones
from gateway.pii.types import PiiSpan

# Recognizers that need a language model, or that the gateway replaces with its own
# (``gateway.pii.recognizers``), as ``gateway.pii.analyzer`` does.
_LEFT_OUT = (
    "SpacyRecognizer",
    "EmailRecognizer",
    "CreditCardRecognizer",
    "IbanRecognizer",
    "PhoneRecognizer",
)
_OWN_RECOGNIZERS = (
    ("CREDIT_CARD", find_cards),
    ("IBAN_CODE", find_ibans),
    ("PHONE_NUMBER", find_phones),
    ("STREET_ADDRESS", find_addresses),
)
"""The gateway's recognizers (``gateway.pii.recognizers``) and the type each finds: only
those of wanted types run (the address parser is costly on long text). Numbers named by
their label (``gateway.pii.labelled_ids``) are found in one pass for all wanted types."""
BATCH_CHARS = 16384
"""Texts are analysed joined, up to about this many characters per Presidio call: each
call costs every recognizer a fixed ~0.1 ms, several times a short window's own cost."""
_FENCE = "\n\n" + "zqx " * 6 + "\n\n"
"""Between joined texts: more words than the context rule looks back over (5), so no
text's words raise another's scores; a blank line, so no text's words name another's
identifiers (``gateway.pii.identifier_forms``); and no pattern spans it."""


def word_context_enhancer() -> Any:
    """Presidio's ``LemmaContextAwareEnhancer`` (its defaults: +0.35, at least 0.4, five
    words back) with context words matched as whole words just before the match
    (``gateway.finetune.pii_context``), without tokenising the whole text, and raising
    scores in place (``AnalyzerEngine.analyze`` made the results for this call and keeps
    only what this returns, so Presidio's deep copy is not needed)."""
    import_presidio()
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class WordContextEnhancer(LemmaContextAwareEnhancer):
        def enhance_using_context(
            self,
            text: str,
            raw_results: list[Any],
            nlp_artifacts: Any,
            recognizers: list[Any],
            context: list[str] | None = None,
        ) -> list[Any]:
            return enhance(
                text,
                raw_results,
                recognizers,
                self.context_similarity_factor,
                self.min_score_with_context_similarity,
                context,
            )

    return WordContextEnhancer(context_prefix_count=PREFIX_WORDS)


def _fixed_registry(base: type[Any]) -> type[Any]:
    """Presidio's ``RecognizerRegistry`` answering each recognizer request once: the
    engine asks for every call (a text), and the answer changes only with the
    recognizers, which are fixed once the lane is built."""

    class FixedRegistry(base):  # type: ignore[misc]
        def get_recognizers(
            self,
            language: str,
            entities: list[str] | None = None,
            all_fields: bool = False,
            ad_hoc_recognizers: list[Any] | None = None,
        ) -> list[Any]:
            if ad_hoc_recognizers:
                found: list[Any] = super().get_recognizers(
                    language, entities, all_fields, ad_hoc_recognizers
                )
                return found
            key = (
                language,
                None if entities is None else tuple(entities),
                all_fields,
                tuple(map(id, self.recognizers)),
            )
            memo: dict[Any, list[Any]] = self.__dict__.setdefault("_answers", {})
            if key not in memo:
                memo[key] = super().get_recognizers(language, entities, all_fields)
            return list(memo[key])

    return FixedRegistry


class _NoNlpEngine:
    """Presidio's ``NlpEngine`` interface for recognizers that read no NLP artifacts:
    pattern recognizers, and a context enhancer that reads the text itself
    (``word_context_enhancer``). Every text gets empty artifacts."""

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> Any:
        return _empty_artifacts(self, language)

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1
    ) -> Iterator[tuple[str, Any]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return not is_word(word) and any(c.isalnum() for c in word)

    def is_punct(self, word: str, language: str) -> bool:
        return not any(c.isalnum() for c in word)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]


@functools.cache
def _empty_artifacts(engine: _NoNlpEngine, language: str) -> Any:
    """One ``NlpArtifacts`` of nothing, shared: nothing in the lane reads or changes it."""
    from presidio_analyzer.nlp_engine import NlpArtifacts

    return NlpArtifacts(
        entities=[],
        tokens=[],  # type: ignore[arg-type]  # a spaCy Doc in Presidio's full pipeline
        tokens_indices=[],
        lemmas=[],
        nlp_engine=engine,
        language=language,
    )


class PatternAnalyzer:
    """``SpanAnalyzer`` over pattern recognizers only; built on first use."""

    def __init__(
        self,
        entities: Sequence[str] | None = None,
        *,
        prefilter: bool = True,
        floor: float = 0.0,
    ) -> None:
        """``prefilter``: run each Presidio pattern only where it can match
        (``gateway.finetune.pii_prefilter``) and check plain IP addresses without
        ``ipaddress`` (``gateway.finetune.pii_validators``); the same results, off for
        comparison.
        ``floor``: the least score wanted; with the prefilter, Presidio's patterns whose
        results cannot reach it are left out, so fewer spans below it are reported
        (those at or above it are the same)."""
        self._entities = list(entities) if entities is not None else None
        self._prefilter = prefilter
        self._floor = floor
        self._presidio_entities: list[str] | None = None
        self._supported: frozenset[str] = frozenset()
        self._engine: Any = None

    def load(self) -> None:
        if self._engine is not None:
            return
        import_presidio()
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

        registry = _fixed_registry(RecognizerRegistry)(supported_languages=[LANGUAGE])
        registry.load_predefined_recognizers(languages=[LANGUAGE])
        for name in _LEFT_OUT:
            registry.remove_recognizer(name)
        registry.add_recognizer(offline_email_recognizer())
        enhancer = word_context_enhancer()
        if self._prefilter:
            floor = (
                Floor(
                    self._floor,
                    enhancer.context_similarity_factor,
                    enhancer.min_score_with_context_similarity,
                )
                if self._floor > 0
                else None
            )
            shared = TextChecks()
            for recognizer in registry.recognizers:
                prefilter(recognizer, floor, shared)
                quick_ip_check(recognizer)
        # Only the types Presidio's recognizers here can find: the others are the
        # gateway's own (``_OWN_RECOGNIZERS``). Asked for them, Presidio logs a warning
        # per call, and raises when none of the wanted types is its own.
        self._supported = frozenset(registry.get_supported_entities(languages=[LANGUAGE]))
        self._presidio_entities = self._presidio_types(self._entities)
        self._engine = AnalyzerEngine(
            nlp_engine=_NoNlpEngine(),  # type: ignore[arg-type]  # duck-typed NlpEngine
            registry=registry,
            supported_languages=[LANGUAGE],
            context_aware_enhancer=enhancer,
        )

    def _presidio_types(self, entities: list[str] | None) -> list[str] | None:
        return None if entities is None else [e for e in entities if e in self._supported]

    def restricted(self, entities: Sequence[str]) -> PatternAnalyzer:
        """This analyzer for ``entities`` only, sharing its loaded engine: what a new
        ``PatternAnalyzer(entities, floor=...)`` finds, without building (and warming)
        Presidio's recognizers again. The engine takes the wanted types per call, and
        its registry answers per set of types."""
        self.load()
        narrow = PatternAnalyzer(entities, prefilter=self._prefilter, floor=self._floor)
        narrow._supported = self._supported
        narrow._presidio_entities = narrow._presidio_types(narrow._entities)
        narrow._engine = self._engine
        return narrow

    def analyze(self, texts: Sequence[str]) -> list[list[PiiSpan]]:
        """Spans in original offsets, found in each text's normalised view."""
        self.load()
        found: list[list[PiiSpan]] = []
        batch: list[str] = []
        size = 0
        for text in texts:
            batch.append(text)
            size += len(text) + len(_FENCE)
            if size >= BATCH_CHARS:
                found.extend(self._analyze_joined(batch))
                batch, size = [], 0
        if batch:
            found.extend(self._analyze_joined(batch))
        return found

    def _analyze_joined(self, texts: list[str]) -> list[list[PiiSpan]]:
        """One Presidio call for ``texts`` joined by ``_FENCE``, its spans handed back to
        the text they lie in (one reaching into a fence is dropped: it cannot be a
        match); the gateway's own recognizers then run on each text alone."""
        joined = _FENCE.join(texts)
        view = normalised(joined)
        analysed = view.text if view else joined
        results = (
            self._engine.analyze(analysed, language=LANGUAGE, entities=self._presidio_entities)
            if self._presidio_entities != []
            else []
        )
        starts, offset = [], 0
        for text in texts:
            starts.append(offset)
            offset += len(text) + len(_FENCE)
        found: list[list[PiiSpan]] = [[] for _ in texts]
        presidio = whole_tokens(analysed, presidio_spans(results))
        for span in _original(view, by_form(analysed, presidio)):
            index = bisect.bisect_right(starts, span["start"]) - 1
            begin = starts[index]
            if span["end"] <= begin + len(texts[index]):
                found[index].append(
                    PiiSpan(
                        type=span["type"],
                        start=span["start"] - begin,
                        end=span["end"] - begin,
                        score=span["score"],
                    )
                )
        return [self._with_own(text, spans) for text, spans in zip(texts, found, strict=True)]

    def _with_own(self, text: str, spans: list[PiiSpan]) -> list[PiiSpan]:
        """``spans`` plus the gateway's recognizers of wanted types on ``text``'s
        normalised view, distinct and in order (``gateway.pii.analyzer._finish`` for a
        lane without NER spans to refine)."""
        view = normalised(text)
        own: list[PiiSpan] = []
        analysed = view.text if view else text
        for kind, recognizer in _OWN_RECOGNIZERS:
            if self._entities is None or kind in self._entities:
                own.extend(recognizer(analysed))
        wanted = self._entities
        labelled = LABELLED_TYPES if wanted is None else LABELLED_TYPES.intersection(wanted)
        if labelled:
            own.extend(find_labelled_ids(analysed, labelled))
        spans = spans + _original(view, by_form(analysed, own))
        unique = {(s["type"], s["start"], s["end"]): s for s in spans if s["start"] < s["end"]}
        return sorted(unique.values(), key=lambda span: (span["start"], span["end"], span["type"]))


def _original(view: View | None, spans: list[PiiSpan]) -> list[PiiSpan]:
    """``spans`` found in a normalised view, in the original text's offsets."""
    if view is None:
        return spans
    mapped = []
    for span in spans:
        start, end = view.to_original(span["start"], span["end"])
        mapped.append(PiiSpan(type=span["type"], start=start, end=end, score=span["score"]))
    return mapped
