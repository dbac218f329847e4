"""The request id that follows a request from intake to its card, in every log line.

It is bound with contextvars (structlog's), so each line logged while a request is
handled carries it; tasks started meanwhile inherit it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog

REQUEST_ID = "request_id"


def request_id_for(inbox_id: int) -> str:
    """The request id of the stored request `inbox_id` (unique across processes)."""
    return f"req-{inbox_id}"


def bind_request(inbox_id: int) -> str:
    """Bind the request id of `inbox_id` for what this task logs from now on; return it."""
    request_id = request_id_for(inbox_id)
    structlog.contextvars.bind_contextvars(**{REQUEST_ID: request_id})
    return request_id


@contextmanager
def request_scope(request_id: str | None, **more: object) -> Iterator[None]:
    """Bind `request_id` (and `more`) for the block's log lines; nothing when it is None."""
    values = {key: value for key, value in more.items() if value is not None}
    if request_id is not None:
        values[REQUEST_ID] = request_id
    with structlog.contextvars.bound_contextvars(**values):
        yield


def current_request_id() -> str | None:
    """The request id bound in this context, if any."""
    value = structlog.contextvars.get_contextvars().get(REQUEST_ID)
    return str(value) if value is not None else None
