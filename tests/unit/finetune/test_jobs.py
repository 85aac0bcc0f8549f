"""Fine-tuning job requests: the fields the gateway reads or forwards are checked."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import BadRequest
from gateway.finetune.jobs import job_request

GOOD: dict[str, Any] = {"model": "gpt-4o-mini", "training_file": "file-a"}


def test_a_full_request_is_read() -> None:
    """Model and files come back; the other documented fields pass as they are."""
    body = {
        **GOOD,
        "validation_file": "file-b",
        "suffix": "support-bot",
        "seed": 7,
        "metadata": {"team": "support"},
        "integrations": [],
        "hyperparameters": {"n_epochs": 2},
        "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
    }
    assert job_request(body) == (
        "gpt-4o-mini",
        {"training_file": "file-a", "validation_file": "file-b"},
    )


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"model": 5}, "model", "invalid_type"),
        ({"model": "Severity 1 incidents page the on-call"}, "model", "invalid_value"),
        ({"model": "m" * 257}, "model", "invalid_value"),
        ({"suffix": 123}, "suffix", "invalid_type"),
        ({"suffix": "s" * 65}, "suffix", "invalid_value"),
        ({"seed": "x"}, "seed", "invalid_type"),
        ({"seed": True}, "seed", "invalid_type"),
        ({"metadata": "str"}, "metadata", "invalid_type"),
        ({"metadata": {"k": 1}}, "metadata", "invalid_value"),
        ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata", "invalid_value"),
        ({"integrations": {}}, "integrations", "invalid_type"),
        ({"hyperparameters": []}, "hyperparameters", "invalid_type"),
        ({"method": "dpo"}, "method", "invalid_type"),
        ({"method": {"dpo": {}}}, "method", "invalid_type"),
        ({"validation_file": ["file-b"]}, "validation_file", "invalid_value"),
    ],
)
def test_wrong_types_and_sizes_are_a_400_naming_the_field(
    extra: dict[str, Any], param: str, code: str
) -> None:
    """What OpenAI would refuse is refused here, before any policy call or forwarding,
    and the message never repeats the value."""
    with pytest.raises(BadRequest) as refused:
        job_request({**GOOD, **extra})
    assert (refused.value.param, refused.value.code) == (param, code)
    assert "Severity" not in refused.value.message
