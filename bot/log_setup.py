"""Logging for the command line: customer words stay out of the logs unless asked for."""

from __future__ import annotations

import logging

# Their debug output carries whole request and response bodies: every copy of a
# customer's words (and whatever card numbers they typed) that passes through.
PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt", "microsoft_agents", "msal")


def configure_logging(*, verbose: bool = False, log_payloads: bool = False) -> None:
    """Log INFO (DEBUG with `verbose`) to stderr, without payload bodies unless `log_payloads`.

    Side effect: sets the root logger's handler and level, and the chat libraries' levels.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_payload_loggers(log_payloads=log_payloads)


def quiet_payload_loggers(*, log_payloads: bool = False) -> None:
    """Keep the chat libraries at INFO and above, where they log no bodies, unless asked."""
    level = logging.NOTSET if log_payloads else logging.INFO
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(level)
