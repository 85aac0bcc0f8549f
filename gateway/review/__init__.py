"""The audit review web page (``/admin/review/``), for auditors only.

sessions  signed-in tabs: short-lived sessions in Elasticsearch behind an HttpOnly cookie
data      what the pages show, read from the local trail (search, show, exposure, verify)
charts    server-rendered SVG charts (no JavaScript, no build step)
routes    the Litestar handlers and ``review_router()``
"""

from gateway.review.routes import review_router

__all__ = ["review_router"]
