"""Logging for the command line: structured lines, customer words left out unless asked for.

Every logger (ours and the libraries') goes through structlog's ProcessorFormatter: one
JSON object per line when stderr is not a terminal, a readable line when it is. Values
bound with contextvars (the request id, see bot/log_context.py) and `extra=` fields are
added to each line.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog

# Their debug output carries whole request and response bodies: every copy of a
# customer's words (and whatever card numbers they typed) that passes through.
PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt", "microsoft_agents", "msal")


def _drop_message_copy(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Drop the `message` ExtraAdder copies from a formatted record: `event` holds it."""
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_message_copy,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def log_formatter(*, json_lines: bool) -> logging.Formatter:
    """A formatter writing JSON lines (`json_lines`) or a console line, with bound context."""
    renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                     else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer])


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """The handler configure_logging adds, so a second call replaces it."""


def configure_logging(*, verbose: bool = False, log_payloads: bool = False,
                      stream: IO[str] | None = None,
                      json_lines: bool | None = None) -> logging.Handler | None:
    """Log INFO (DEBUG with `verbose`) to stderr, without payload bodies unless `log_payloads`.

    JSON lines unless the stream is a terminal (`json_lines` decides when given). Like
    logging.basicConfig, it changes nothing but the chat libraries' levels when the root
    logger has a handler already (a test runner's); a given `stream` always gets one.
    Returns the handler added. Side effect: sets the root logger's handler and level, the
    chat libraries' levels, and configures structlog's own loggers to go the same way.
    """
    quiet_payload_loggers(log_payloads=log_payloads)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    if stream is None and root.handlers:
        return None  # as logging.basicConfig: whoever set those up decides
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    structlog.configure(
        processors=[*_shared_processors(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(stream, "isatty") and stream.isatty())
    handler = _OurHandler(stream)
    handler.setFormatter(log_formatter(json_lines=json_lines))
    root.addHandler(handler)
    return handler


def quiet_payload_loggers(*, log_payloads: bool = False) -> None:
    """Keep the chat libraries at INFO and above, where they log no bodies, unless asked."""
    level = logging.NOTSET if log_payloads else logging.INFO
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(level)
