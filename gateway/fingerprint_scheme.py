"""The fingerprint scheme's parameters and name, without numpy (see ``gateway.fingerprint``).

What needs only the scheme's name (the chunk records, the scan's policy input, the
matcher's scheme check) imports it from here, so that numpy loads when fingerprints are
computed, not when the gateway starts. Any change to what ``gateway.fingerprint``
computes must change ``SCHEME``: chunks of another scheme fail the scan closed until they
are re-ingested.
"""

from __future__ import annotations

WORD_K = 3
WORD_WINDOW = 3
CHAR_K = 16
CHAR_WINDOW = 12
SCHEME = f"skel-w{WORD_K}x{WORD_WINDOW}-c{CHAR_K}x{CHAR_WINDOW}-v4"
"""Names the scheme; stored fingerprints are comparable only within one scheme."""
