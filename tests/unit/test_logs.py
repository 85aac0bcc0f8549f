import io
import json
import logging

import structlog

from gateway.logs import REDACTED, configure_logging, drop_secrets


def test_secret_named_keys_are_blanked() -> None:
    """Keys that name secrets lose their values, at any depth."""
    event = drop_secrets(
        None,
        "info",
        {
            "event": "x",
            "Authorization": "Bearer abc",
            "headers": {"x-api-key": "k", "accept": "json"},
            "password": "p",
        },
    )
    assert event["Authorization"] == REDACTED
    assert event["headers"] == {"x-api-key": REDACTED, "accept": "json"}
    assert event["password"] == REDACTED


def test_secret_looking_values_are_scrubbed() -> None:
    """Bearer tokens, sk- keys and JWTs inside free text are removed."""
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
    event = drop_secrets(
        None,
        "info",
        {
            "event": f"got Bearer abc.def and sk-demo-alice123 and {jwt}",
            "items": ["sk-live-1234567890"],
        },
    )
    assert "abc.def" not in event["event"]
    assert "sk-demo-alice123" not in event["event"]
    assert jwt not in event["event"]
    assert event["items"] == [REDACTED]


def test_pipeline_renders_json_without_secrets(capsys: object) -> None:
    """Through the configured pipeline, stdlib and structlog events are JSON and clean."""
    configure_logging("info", "json")
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    structlog.get_logger("t").info("call", api_key="sk-demo-secret-value", n=1)
    logging.getLogger("lib").warning("header Authorization: Bearer sk-demo-other-secret")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "call"
    assert lines[0]["api_key"] == REDACTED
    assert lines[0]["n"] == 1
    assert "sk-demo-other-secret" not in lines[1]["event"]
    structlog.reset_defaults()
