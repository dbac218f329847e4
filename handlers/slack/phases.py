"""Which Slack requests `serve --no-worker` finishes itself, and which it leaves to a worker.

In split mode `serve` only verifies, stores and answers; `feedbackbot worker` does the
rest. The exceptions are requests whose work must happen while Slack still waits:
opening a modal needs the request's `trigger_id`, which expires 3 s after the click, and
a forwarding form's submission answers with the forward's outcome (its errors, or the
"already forwarded" view). Those are finished where they arrive, as in one-process mode.
"""

from __future__ import annotations

from typing import Any

from handlers.slack.intake_command import COMMAND
from handlers.slack.intake_modal import MODAL_CALLBACK, SHORTCUT_CALLBACK
from handlers.slack.render import REASSIGN_ACTION, RESOLVE_ACTION

# Buttons whose listener opens a modal.
_OPEN_MODALS = frozenset({RESOLVE_ACTION, REASSIGN_ACTION})


def finished_where_answered(body: dict[str, Any]) -> bool:
    """True when the request's work must run in the process that answers it."""
    if "command" in body:
        # `/feedback` alone opens the forwarding form.
        return body.get("command") == COMMAND and not str(body.get("text") or "").strip()
    kind = body.get("type")
    if kind == "block_actions":
        return any(isinstance(action, dict) and action.get("action_id") in _OPEN_MODALS
                   for action in body.get("actions") or ())
    if kind in ("message_action", "shortcut"):
        return body.get("callback_id") == SHORTCUT_CALLBACK
    if kind == "view_submission":
        return (body.get("view") or {}).get("callback_id") == MODAL_CALLBACK
    return False
