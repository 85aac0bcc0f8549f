"""A short verbatim excerpt of a long governed document, inside a long example of other
text, is refused even when neither signal alone reaches its threshold: the default
policy's ``min_shared_total`` counts both signals together."""

from __future__ import annotations

import random

import pytest

from gateway.elastic import ChunkIndex
from gateway.finetune.matcher import CorpusMatcher, Overlap
from gateway.finetune.scan import UploadScanner
from gateway.settings import Settings

from ..conftest import BOB
from .conftest import ingest_texts
from .test_finetune import processed, refused_upload
from .test_finetune_guard import Sdk, client, example, jsonl, sdk

__all__ = ["client", "sdk"]  # the fixtures this module reuses

pytestmark = pytest.mark.integration

_WORDS = (
    "account audit backlog ballot barrel basin beacon bracket budget cabinet canal "
    "candle carrier cedar census chapel charter cipher circuit clause cluster cobalt "
    "compass convoy copper corridor cradle crater crystal current dagger delta depot "
    "dialect digest docket domain dossier drawer ember engine estate fabric falcon ferry "
    "fiber figure filter fleet forge fossil fountain freight furnace gallery garnet "
    "gazette glacier granite gravel harbor harvest hatch helmet herald hinge horizon "
    "indigo inlet island ivory jacket jasper kernel kettle ladder lantern ledger lever "
    "linen locket lumber magnet mantle marble market meadow mercury meridian mirror "
    "mortar nickel oasis orbit orchard outpost paddle pantry parcel pebble pendant "
    "pepper pillar pioneer plank plaza pocket portal prairie quarry quartz quiver radar "
    "rafter rampart ration ribbon ridge rivet saddle salmon satchel scaffold schooner "
    "sentry shingle signal silver socket spindle spruce stable summit tablet tavern "
    "tether thicket timber torrent tower trellis tunnel turbine valley vapor velvet "
    "vessel walnut warden wharf willow window winter zenith"
)
VOCABULARY = _WORDS.split()


def words(seed: int, count: int) -> list[str]:
    pick = random.Random(seed).choice
    return [pick(VOCABULARY) for _ in range(count)]


GOVERNED = words(1, 600)
"""One long restricted document (several chunks): an excerpt is a small part of it."""


def long_example(excerpt: list[str], seed: int) -> bytes:
    """An excerpt between ~150 words of other text on either side: a small share of
    the example too."""
    return jsonl(example(" ".join([*words(seed, 150), *excerpt, *words(seed + 1, 150)])))


def counted_only_by_both_signals(overlaps: list[Overlap]) -> bool:
    """No overlap reaches today's other measures (score 0.2, 24 character shingles),
    and one shares at least 30 fingerprints of both signals."""
    return (
        all(o.score < 0.2 and o.shared_chars < 24 for o in overlaps)
        and max((o.shared for o in overlaps), default=0) >= 30
    )


async def test_an_excerpt_under_both_single_measures_is_refused(
    settings: Settings, sdk: Sdk
) -> None:
    """Found by trying excerpts of 30 of these long words (as many letters as ~40 words
    of ordinary prose): one the character shingles alone would let through (the case the
    total measure is for) is refused through the API, and the same example without the
    excerpt passes."""
    async with ChunkIndex.from_settings(settings) as index:
        await ingest_texts(index, {"ledger.txt": " ".join(GOVERNED)})
        scanner = UploadScanner(CorpusMatcher(index.client, index.name), None)
        for start in range(0, len(GOVERNED) - 30, 7):
            content = long_example(GOVERNED[start : start + 30], 1000 + start)
            if counted_only_by_both_signals(list((await scanner.scan(content)).overlaps)):
                break
        else:
            pytest.fail("no 30-word excerpt falls under both single measures")
    message = await refused_upload(sdk(BOB), content)
    assert "governed document" in message or "ledger.txt" in message
    await processed(sdk(BOB), long_example([], 1000 + start))
