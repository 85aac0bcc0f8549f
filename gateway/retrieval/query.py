"""bounded_query(text): what of the caller's text goes into the search, within ES limits.

A long prompt is the caller's input, not an outage: Elasticsearch turns every term of
the query into a clause per searched field and refuses a query over its clause limit
(``too_many_nested_clauses``; 1,024 at the least), which the gateway would report as
"elasticsearch unavailable". So a query is cut to at most ``MAX_TERMS`` distinct terms
and ``MAX_CHARS`` characters. A long prompt usually ends with the question (pasted
material first), so terms are taken from the end; the kept terms stay in their order.
A query within both bounds is returned unchanged (ranking of normal questions is not
touched).
"""

from __future__ import annotations

import re

MAX_TERMS = 128
MAX_CHARS = 1024
# A term as the standard analyzer would roughly see it; an ideograph is a term of its own,
# as Elasticsearch's standard tokenizer splits CJK text into single characters.
_TERM = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[^\W_]+(?:['.][^\W_]+)*")


def bounded_query(text: str) -> str:
    """``text`` unchanged when small enough, else its last distinct terms, in order."""
    terms = _TERM.findall(text)
    if len(text) <= MAX_CHARS and len(terms) <= MAX_TERMS:
        return text
    kept: dict[str, str] = {}
    size = 0
    for found in reversed(terms):
        term = found[:MAX_CHARS]
        key = term.lower()
        if key in kept:
            continue
        if len(kept) == MAX_TERMS or size + len(term) + 1 > MAX_CHARS:
            break
        kept[key] = term
        size += len(term) + 1
    return " ".join(reversed(kept.values()))
