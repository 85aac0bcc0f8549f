"""Presidio's IP address check, answered without ``ipaddress`` for a plain dotted quad.

``IpRecognizer`` passes every match to ``ipaddress.ip_interface`` to drop what its
patterns over-match ("01.2.3.4", "1.2.3.4/33"). On digit-dense text its IPv4 pattern
matches every four-part version ("3.12.4.1"), and that check was a tenth of the pattern
lane's time. A match written as four decimal numbers from 0 to 255 without leading
zeros (and no prefix length) is one ``ipaddress`` accepts: it is kept without asking;
anything else is asked as before, so the results are Presidio's own
(``tests/unit/finetune/test_pii_validators.py``).
"""

from __future__ import annotations

import re
from typing import Any

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def quick_ip_check(recognizer: Any) -> bool:
    """Make ``recognizer``'s check skip ``ipaddress`` for a plain dotted quad, if it is
    Presidio's ``IpRecognizer`` with its own check; False (nothing changed) otherwise."""
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    if type(recognizer) is not IpRecognizer or "invalidate_result" in vars(recognizer):
        return False
    check = recognizer.invalidate_result

    def invalidate_result(pattern_text: str) -> bool | None:
        if _PLAIN_IPV4.fullmatch(pattern_text):
            return None  # what ``IpRecognizer.invalidate_result`` returns for a valid one
        invalid: bool | None = check(pattern_text)
        return invalid

    recognizer.invalidate_result = invalidate_result  # type: ignore[method-assign,assignment]
    return True
