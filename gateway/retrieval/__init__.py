"""Authorization-aware retrieval: OPA policy compiled into the Elasticsearch query."""
