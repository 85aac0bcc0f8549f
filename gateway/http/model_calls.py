"""What every model endpoint's handler shares: the pipeline's ports and its rendering."""

from __future__ import annotations

import functools
from typing import Any

from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from gateway.context import build_context
from gateway.finetune.registry import Registry
from gateway.http.admission import admit, settle
from gateway.pipeline import Answer, Ports, StreamAnswer
from gateway.pipeline.files import FileInputs
from gateway.services import Services


def ports_of(services: Services) -> Ports:
    """The pipeline's view of the running gateway."""
    return Ports(
        decisions=services.decisions,
        audit=services.audit,
        upstream=services.upstream,
        build_context=functools.partial(build_context, services.context_stages()),
        metrics=services.metrics,
        redaction_hash_key=services.redaction_hash_key,
        prompt_cipher=services.prompt_cipher,
        admit=functools.partial(admit, services),
        settle=functools.partial(settle, services),
        background=services.run_in_background,
        files=FileInputs(
            Registry(services.index.client, services.settings.index_prefix),
            services.policy,
            services.finetune.recheck,
        ),
    )


def render(answer: Answer | StreamAnswer) -> Response[Any] | Stream:
    if isinstance(answer, Answer):
        return Response(
            content=answer.body,
            status_code=answer.status_code,
            media_type=answer.media_type,
            headers=dict(answer.headers),
        )
    return Stream(
        answer.chunks,
        # Runs once the response is over, also when a client disconnect cancelled it
        # while the relay was suspended at a yield: closing it then cancels the upstream.
        background=BackgroundTask(answer.chunks.aclose),
        status_code=answer.status_code,
        media_type="text/event-stream",
        headers=dict(answer.headers),
    )
