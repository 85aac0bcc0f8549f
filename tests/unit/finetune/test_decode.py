"""Blob decoding looks only at the runs where a blob can be, and finds what a scan of
the whole text finds."""

import base64
import binascii
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune import decode


def _blobs_before(text: str) -> Iterator[str]:
    """``decode._blobs`` as it was at f15b267: both patterns over the whole text."""
    if decode._BLOB_RUN not in text.encode("utf-8", "surrogatepass").translate(decode._BLOB_MARKS):
        return
    for match in decode._HEX.finditer(text):
        decoded = decode._text(bytes.fromhex(match.group()))
        if decoded is not None:
            yield decoded
    for match in decode._BASE64.finditer(text):
        blob = match.group().rstrip("=")
        if decode._HEX.fullmatch(blob):
            continue
        padded = blob + "=" * (-len(blob) % 4)
        try:
            raw = (
                base64.urlsafe_b64decode(padded)
                if "-" in blob or "_" in blob
                else base64.b64decode(padded, validate=True)
            )
        except (binascii.Error, ValueError):
            continue
        decoded = decode._text(raw)
        if decoded is not None:
            yield decoded


_SECRET = st.text(alphabet="abc xyz.é\n", min_size=10, max_size=40)
_PIECE = st.one_of(
    _SECRET.map(lambda s: base64.b64encode(s.encode()).decode()),
    _SECRET.map(lambda s: base64.urlsafe_b64encode(s.encode()).decode()),
    _SECRET.map(lambda s: s.encode().hex()),
    st.sampled_from(["toggle_code_context_event", "a-b_c", "==", "+/", " ", ".", "é", "\u200b"]),
    st.text(alphabet="AZaz09+/=_-. ü", max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECE, max_size=8).map("".join))
def test_blobs_of_the_runs_are_the_blobs_of_the_whole_text(text: str) -> None:
    """The same decoded blobs, in the same order, ASCII text or not."""
    assert list(decode._blobs(decode._blob_runs(text))) == list(_blobs_before(text))
