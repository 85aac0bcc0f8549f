from gateway.context import body_sites


def test_messages_first_and_gateway_options_skipped() -> None:
    """Placeholders number the conversation first; the gateway's own metadata options
    (removed before upstream) are not analysed, other metadata is."""
    body = {
        "model": "m",
        "user": "u@x.example",
        "metadata": {"gateway_corpora": "a,b", "team": "ops"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    labels = [site.label for site in body_sites(body)]
    assert labels[0] == "messages[0].content"
    assert "metadata.gateway_corpora" not in labels
    assert "metadata.gateway_corpora{key}" not in labels
    assert {"user", "metadata.team", "metadata.team{key}"} <= set(labels)
