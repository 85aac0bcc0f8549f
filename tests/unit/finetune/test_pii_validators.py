"""A plain dotted quad is kept without ``ipaddress``; every answer is Presidio's own."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.finetune.pii_validators import quick_ip_check
from gateway.pii.presidio_import import import_presidio


def _ip_recognizer() -> Any:
    import_presidio()
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    return IpRecognizer()


_PIECES = st.sampled_from(
    ["0", "1", "2", "5", "9", "00", "01", "25", "255", "256", "299", "1000", ".", "/", ":",
     "24", "33", "::", "a", "ff", "\u0663", " ", "-"]
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=12).map("".join))
def test_the_same_verdict_as_presidio(text: str) -> None:
    """For any mix of octets, dots, prefixes and IPv6 pieces: Presidio's own verdict."""
    plain, quick = _ip_recognizer(), _ip_recognizer()
    assert quick_ip_check(quick)
    assert quick.invalidate_result(text) == plain.invalidate_result(text)


@pytest.mark.parametrize("text", ["3.12.4.1", "0.0.0.0", "255.255.255.255", "10.0.19.41"])
def test_a_plain_dotted_quad_is_not_parsed(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version or an address written plainly is kept without asking ``ipaddress``."""
    recognizer = _ip_recognizer()
    quick_ip_check(recognizer)
    import ipaddress

    def refuse(address: str) -> None:
        raise AssertionError(address)

    monkeypatch.setattr(ipaddress, "ip_interface", refuse)
    assert recognizer.invalidate_result(text) is None


@pytest.mark.parametrize("text", ["01.2.3.4", "1.2.3.4/33", "256.1.1.1"])
def test_anything_else_is_asked_as_before(text: str) -> None:
    """Leading zeros, a prefix length out of range, an octet over 255: invalid, as
    ``ipaddress`` says."""
    recognizer = _ip_recognizer()
    quick_ip_check(recognizer)
    assert recognizer.invalidate_result(text) is True


def test_only_presidios_ip_recognizer_is_changed() -> None:
    """Another recognizer, or one already changed, is left alone."""
    import_presidio()
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    assert not quick_ip_check(EmailRecognizer())
    recognizer = _ip_recognizer()
    assert quick_ip_check(recognizer)
    assert not quick_ip_check(recognizer)
