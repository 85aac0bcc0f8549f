"""Token counting with OpenAI's o200k_base, offline (bpe-openai bundles its tables)."""

from __future__ import annotations

import functools
import warnings
from typing import Any

ENCODING = "o200k_base"


@functools.cache
def encoding(name: str = ENCODING) -> Any:
    """The bundled encoding, loaded once per process (the import alone is slow)."""
    with warnings.catch_warnings():
        # bpe-openai 0.1.4 reads its data through the deprecated importlib.resources API.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai  # type: ignore[import-untyped]  # no py.typed marker

        return bpe_openai.get_encoding(name)


def count_tokens(text: str) -> int:
    return len(encoding().encode(text))
