"""The pattern-only PII lane: Presidio's pattern recognizers without spaCy.

When the fine-tune policy blocks or reports no NER type (names, places: see
``gateway.finetune.pii_plan``), the upload scan needs no language model: every
structured identifier the policy cares about (e-mail, card, IBAN, phone, SSN, IP
address, licence and passport numbers...) is found by a pattern with a checksum or
validation. This analyzer runs Presidio's own ``AnalyzerEngine`` over those recognizers,
with a regex tokenizer in place of spaCy, so Presidio's context words ("phone",
"passport") still raise scores exactly as in the full pipeline (lemmas are the
lower-cased tokens, as in the chat lane's lean pipeline), then adds the gateway's own
recognizers and maps spans back from the normalised view (``gateway.pii.analyzer``'s
``_finish``). Building it takes well under a second and no model is loaded.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from gateway.finetune.pii_context import changeable
from gateway.finetune.pii_prefilter import Floor, prefilter
from gateway.pii.analyzer import LANGUAGE, offline_email_recognizer, presidio_spans
from gateway.pii.identifier_forms import by_form
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
# Close to spaCy's tokenizer where it matters for context: an address, number or
# identifier stays one token, surrounding punctuation is split off.
_TOKEN = re.compile(r"\w[\w.@:/+'-]*\w|\w|[^\w\s]")
_OWN_RECOGNIZERS = (
    ("CREDIT_CARD", find_cards),
    ("IBAN_CODE", find_ibans),
    ("PHONE_NUMBER", find_phones),
    ("STREET_ADDRESS", find_addresses),
)
"""The gateway's recognizers (``gateway.pii.recognizers``) and the type each finds: only
those of wanted types run (the address parser is costly on long text)."""
BATCH_CHARS = 16384
"""Texts are analysed joined, up to about this many characters per Presidio call: each
call costs every recognizer a fixed ~0.1 ms, several times a short window's own cost.
(With Presidio's own context lookup, cost grew with the square of a call's length:
4,096 was the best trade then; see ``indexed_enhancer``.)"""
KEYWORD_CACHE_SIZE = 65_536
"""Distinct lemmas whose keyword parts are remembered."""
_FENCE = "\n\n" + "zqx " * 6 + "\n\n"
"""Between joined texts: more context words than Presidio looks back over (5), so no
text's words raise another's scores, and no pattern spans it."""


class _Tokens(list[str]):
    """The text's tokens, with where each ends: the enhancer finds a match's token by
    binary search instead of a walk over every token before it."""

    ends: list[int]


class _Keywords(list[str]):
    """Presidio's keyword list with set-speed membership: its enhancer asks ``word in
    keywords`` for each word near each match, a walk over the whole text's words."""

    def __init__(self, words: Iterable[str]) -> None:
        super().__init__(words)
        self._members = frozenset(self)

    def __contains__(self, word: object) -> bool:
        return word in self._members


class _Owned(list[Any]):
    """Results the enhancer may change in place: ``copy.deepcopy`` hands back the list
    itself."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Owned:
        return self


def indexed_enhancer() -> Any:
    """Presidio's ``LemmaContextAwareEnhancer`` (its defaults), finding a match's token by
    binary search over ``_Tokens.ends``. Its own lookup walks every token before the
    match, so a long text with many matches cost time quadratic in its length. It also
    skips Presidio's deep copy of the results, and the results no context word can
    change (``gateway.finetune.pii_context``)."""
    import_presidio()
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class IndexedEnhancer(LemmaContextAwareEnhancer):
        def enhance_using_context(
            self,
            text: str,
            raw_results: list[Any],
            nlp_artifacts: Any,
            recognizers: list[Any],
            context: list[str] | None = None,
        ) -> list[Any]:
            # Presidio deep-copies the results before raising scores in place (a fifth
            # of the lane's cost on digit-dense text). ``AnalyzerEngine.analyze`` made
            # them for this call and keeps only what this returns: no copy is needed,
            # and the results no context word can change need no tokens either.
            needed = changeable(text, raw_results, recognizers, _FENCE, context)
            if needed:
                super().enhance_using_context(
                    text, _Owned(needed), nlp_artifacts, recognizers, context
                )
            return raw_results

        @staticmethod
        def _find_index_of_match_token(
            word: str, start: int, tokens: list[str], tokens_indices: list[int]
        ) -> int:
            ends = getattr(tokens, "ends", None)
            if ends is None:
                index: int = LemmaContextAwareEnhancer._find_index_of_match_token(
                    word, start, tokens, tokens_indices
                )
                return index
            # Presidio takes the first token that starts at ``start`` or ends after it.
            found = bisect.bisect_right(ends, start)
            if found == len(ends):
                raise ValueError("Did not find the match in the list of tokens")
            return found

    return IndexedEnhancer()


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


class _LazyArtifacts:
    """Presidio's ``NlpArtifacts``, built on first read. Only the context enhancer reads
    them, and only for a text where some pattern matched: most candidate windows have
    none, and tokenising them was half of the lane's cost."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._built: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._build()
        return getattr(self._built, name)


class _TokenNlpEngine:
    """Presidio's ``NlpEngine`` interface with a regex tokenizer: tokens, their offsets
    and lower-cased lemmas for the context enhancer, and no entities."""

    def __init__(self) -> None:
        from presidio_analyzer.nlp_engine import NlpArtifacts
        from spacy.lang.en.stop_words import STOP_WORDS  # a word list; no model is loaded

        self._stop_words = STOP_WORDS
        is_stopword, is_punct = self.is_stopword, self.is_punct

        @functools.lru_cache(maxsize=KEYWORD_CACHE_SIZE)
        def parts(lemma: str) -> tuple[str, ...]:
            # Presidio's ``NlpArtifacts.set_keywords`` for one lemma: dropped if a stop
            # word, punctuation, "-PRON-" or "be", else lower-cased and split at ":".
            if (
                is_stopword(lemma, LANGUAGE)
                or is_punct(lemma, LANGUAGE)
                or lemma in ("-PRON-", "be")
            ):
                return ()
            return tuple(lemma.lower().split(":"))

        class Artifacts(NlpArtifacts):
            """Keywords as Presidio computes them, each distinct lemma judged once
            (the fence's words and common words recur in every joined text)."""

            @staticmethod
            def set_keywords(nlp_engine: Any, lemmas: list[str], language: str) -> list[str]:
                return _Keywords(part for lemma in lemmas for part in parts(lemma))

        self._artifacts = Artifacts

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> Any:
        return _LazyArtifacts(lambda: self._artifacts_of(text, language))

    def _artifacts_of(self, text: str, language: str) -> Any:
        tokens, starts, ends = _Tokens(), [], []
        for match in _TOKEN.finditer(text):
            tokens.append(match.group())
            starts.append(match.start())
            ends.append(match.end())
        tokens.ends = ends
        artifacts = self._artifacts(
            entities=[],
            tokens=tokens,  # type: ignore[arg-type]  # the enhancer reads str tokens
            tokens_indices=starts,
            lemmas=[token.lower() for token in tokens],
            nlp_engine=self,
            language=language,
        )
        return artifacts

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1
    ) -> Iterator[tuple[str, Any]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word.lower() in self._stop_words

    def is_punct(self, word: str, language: str) -> bool:
        return not any(ch.isalnum() for ch in word)

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]


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
        (``gateway.finetune.pii_prefilter``; the same results, off for comparison).
        ``floor``: the least score wanted; with the prefilter, Presidio's patterns whose
        results cannot reach it are left out, so fewer spans below it are reported
        (those at or above it are the same)."""
        self._entities = list(entities) if entities is not None else None
        self._prefilter = prefilter
        self._floor = floor
        self._presidio_entities: list[str] | None = None
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
        enhancer = indexed_enhancer()
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
            for recognizer in registry.recognizers:
                prefilter(recognizer, floor)
        # Only the types Presidio's recognizers here can find: the others are the
        # gateway's own (``_OWN_RECOGNIZERS``). Asked for them, Presidio logs a warning
        # per call, and raises when none of the wanted types is its own.
        supported = set(registry.get_supported_entities(languages=[LANGUAGE]))
        self._presidio_entities = (
            None if self._entities is None else [e for e in self._entities if e in supported]
        )
        self._engine = AnalyzerEngine(
            nlp_engine=_TokenNlpEngine(),  # type: ignore[arg-type]  # duck-typed NlpEngine
            registry=registry,
            supported_languages=[LANGUAGE],
            context_aware_enhancer=enhancer,
        )

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
        for span in _original(view, by_form(analysed, presidio_spans(results))):
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
        for kind, recognizer in _OWN_RECOGNIZERS:
            if self._entities is None or kind in self._entities:
                own.extend(recognizer(view.text if view else text))
        spans = spans + _original(view, by_form(view.text if view else text, own))
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
