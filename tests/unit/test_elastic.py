"""The Elasticsearch adapter's one error map, driven with the client's own exceptions."""

import elastic_transport
import pytest
from elasticsearch import exceptions as es_exc
from elasticsearch.helpers import BulkIndexError

from gateway.elastic import IndexAlreadyExists, IndexNotFound, elasticsearch_errors
from gateway.errors import DependencyUnavailable


def _api_error(cls: type[es_exc.ApiError], status: int, error_type: str) -> es_exc.ApiError:
    meta = elastic_transport.ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=elastic_transport.HttpHeaders(),
        duration=0.0,
        node=elastic_transport.NodeConfig("http", "127.0.0.1", 9200),
    )
    body = {"error": {"type": error_type, "reason": "Ann Example's document"}, "status": status}
    return cls(error_type, meta, body)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (elastic_transport.ConnectionError("refused"), DependencyUnavailable),
        (elastic_transport.ConnectionTimeout("slow"), DependencyUnavailable),
        (_api_error(es_exc.ApiError, 500, "internal"), DependencyUnavailable),
        (_api_error(es_exc.NotFoundError, 404, "index_not_found_exception"), IndexNotFound),
        (
            _api_error(es_exc.BadRequestError, 400, "resource_already_exists_exception"),
            IndexAlreadyExists,
        ),
        (_api_error(es_exc.BadRequestError, 400, "parsing_exception"), DependencyUnavailable),
    ],
)
def test_client_errors_become_dependency_unavailable(
    raised: Exception, expected: type[DependencyUnavailable]
) -> None:
    """Every client error becomes a 503 naming Elasticsearch and what failed, never its text."""
    with pytest.raises(DependencyUnavailable) as caught, elasticsearch_errors("search failed"):
        raise raised
    assert type(caught.value) is expected
    assert caught.value.__cause__ is raised
    assert caught.value.status_code == 503
    assert caught.value.message == "elasticsearch unavailable: search failed"


def test_name_error_adds_the_class_name_only() -> None:
    """``name_error`` appends the exception's class, not its message."""
    with (
        pytest.raises(DependencyUnavailable, match=r"^elasticsearch unavailable: x \(Connection"),
        elasticsearch_errors("x", name_error=True),
    ):
        raise elastic_transport.ConnectionError("secret host detail")


def test_bulk_errors_name_only_their_error_types() -> None:
    """A failed bulk request names its items' error types, never document content."""
    items = [{"index": {"error": {"type": "mapper_parsing_exception", "reason": "Ann Example"}}}]
    with (
        pytest.raises(DependencyUnavailable) as caught,
        elasticsearch_errors("bulk indexing failed"),
    ):
        raise BulkIndexError("1 document(s) failed to index.", items)
    assert caught.value.message.endswith("bulk indexing failed: mapper_parsing_exception")
    assert "Ann" not in caught.value.message


def test_other_exceptions_pass_through() -> None:
    """Only the client's exceptions are translated; a bug stays a bug."""
    with pytest.raises(KeyError), elasticsearch_errors("x"):
        raise KeyError("hits")
