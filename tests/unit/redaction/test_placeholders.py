"""Typed placeholders: numbering, and restoration limited to what was sent."""

from gateway.redaction.placeholders import Placeholders


def test_restoration_is_limited_to_tokens_that_were_sent() -> None:
    """A value redacted from a chunk the budget left out cannot be restored by its token."""
    placeholders = Placeholders(b"k")
    sent = placeholders.replace("PERSON", "Alice Visible")
    hidden = placeholders.replace("PERSON", "Bob Secretname")
    view = placeholders.restricted_to(f'{{"messages": [{{"content": "{sent} met"}}]}}')
    assert view.restore(f"{sent} and {hidden}") == f"Alice Visible and {hidden}"
