"""Governed ingest: files -> documents with governance fields -> token chunks with PII spans.

    sources     find the files under the PATH arguments
    readers     .txt .md .html .jsonl .pdf -> text (one reader per format)
    manifest    the corpus manifest (governance defaults, per-file rules), validated
    governance  manifest defaults < file rules < JSONL line -> DocumentMeta
    chunking    o200k_base token windows with overlap and exact character offsets
    records     the chunk documents of ``chunk_mapping()``, and the document version
    store       Elasticsearch reads and deletes beyond ChunkIndex
    pipeline    one run: skip unchanged, replace changed, prune absent
    cli         ``gateway ingest``

Import from the modules (``gateway.ingest.pipeline.run_ingest``). Importing the package
or its CLI loads nothing heavy: ``gateway`` starts fast, and Presidio loads on first use.
"""
