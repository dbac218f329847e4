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

# Their debug output carries whole request and response bodies: every copy of a
# customer's words (and whatever card numbers they typed) that passes through.
PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt", "microsoft_agents", "msal")


def _drop_message_copy(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Drop the `message` ExtraAdder copies from a formatted record: `event` holds it."""
    if event_dict.get("message") == event_dict.get("event"):
        event_dict.pop("message", None)
    return event_dict


def _shared_processors() -> list[Any]:
    import structlog

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
    import structlog

    renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                     else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer])


def _configure_structlog() -> None:
    """Send structlog's own loggers through the standard library's, as ours go."""
    import structlog

    structlog.configure(
        processors=[*_shared_processors(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """The handler configure_logging adds, so a second call replaces it.

    structlog (a tenth of a second to import) is loaded with the first line logged, so a
    command that logs nothing, like `digest --print`, never pays for it.
    """

    def __init__(self, stream: IO[str], *, json_lines: bool) -> None:
        super().__init__(stream)
        self._json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line; builds the formatter the first time."""
        if self.formatter is None:
            _configure_structlog()
            self.setFormatter(log_formatter(json_lines=self._json_lines))
        return super().format(record)


def configure_logging(*, verbose: bool = False, log_payloads: bool = False,
                      stream: IO[str] | None = None,
                      json_lines: bool | None = None) -> logging.Handler | None:
    """Log INFO (DEBUG with `verbose`) to stderr, without payload bodies unless `log_payloads`.

    JSON lines unless the stream is a terminal (`json_lines` decides when given). Like
    logging.basicConfig, it changes nothing but the chat libraries' levels when the root
    logger has a handler already (a test runner's); a given `stream` always gets one.
    Returns the handler added. Side effect: sets the root logger's handler and level, the
    chat libraries' levels, and (with the first line logged) structlog's own loggers to go
    the same way.
    """
    quiet_payload_loggers(log_payloads=log_payloads)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    if stream is None and root.handlers:
        return None  # as logging.basicConfig: whoever set those up decides
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(stream, "isatty") and stream.isatty())
    handler = _OurHandler(stream, json_lines=json_lines)
    root.addHandler(handler)
    return handler


def quiet_payload_loggers(*, log_payloads: bool = False) -> None:
    """Keep the chat libraries at INFO and above, where they log no bodies, unless asked."""
    level = logging.NOTSET if log_payloads else logging.INFO
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(level)
