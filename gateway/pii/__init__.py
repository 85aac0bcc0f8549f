"""PII: finding it, in every string of a request body, for ingest, chat and fine-tune alike.

    types       PiiSpan (type, start, end, score), the analyzer protocol, NER types
    analyzer    Presidio over spaCy, built strictly offline, plus the recognizers below,
                run on a normalised view of each text: spans in original offsets
    normalize   the analysis view (NFKC, invisible/combining characters dropped, ASCII
                digits and dashes) and its map back to the original characters
    recognizers payment cards (all ranges), IBANs, phone numbers, street addresses;
                the clean-up of spaCy's guesses
    walker      every analysable string site of a JSON body; write redacted text back

What is done with a span (kept, replaced, masked, hashed; score thresholds) is policy's
decision (``policies/redaction.rego``), applied by ``gateway.redaction.apply``.
Importing the package loads nothing heavy: Presidio and pyap2 load on first use.
"""
