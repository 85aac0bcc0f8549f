"""PII: finding it, in every string of a request body, for ingest, chat and fine-tune alike.

    analyzer    Presidio over spaCy, built strictly offline: spans per text
    walker      every analysable string site of a JSON body; write redacted text back

Import from the modules (``gateway.pii.walker.walk``). Importing the package loads
nothing heavy: Presidio loads on first use.
"""
