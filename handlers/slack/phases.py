"""Which Slack requests `serve --no-worker` finishes itself, and which it leaves to a worker.

In split mode `serve` only verifies, stores and answers; `feedbackbot worker` does the
rest. The exceptions are requests whose work must happen while Slack still waits:
opening a modal needs the request's `trigger_id`, which expires 3 s after the click, a
forwarding form's submission answers with the forward's outcome (its errors, or the
"already forwarded" view), and `/feedback help|stats|mine` answer with what they looked
up. Those are finished where they arrive, before the answer, as Bolt does by default.
"""

from __future__ import annotations

from typing import Any

from handlers.slack.intake_command import COMMAND
from handlers.slack.intake_modal import MODAL_CALLBACK, SHORTCUT_CALLBACK
from handlers.slack.render import REASSIGN_ACTION, RESOLVE_ACTION

# `/feedback` subcommands whose answer is all there is to do.
_ANSWERS = frozenset({"help", "stats", "mine"})
# Buttons whose listener opens a modal.
_OPEN_MODALS = frozenset({RESOLVE_ACTION, REASSIGN_ACTION})


def finished_where_answered(body: dict[str, Any]) -> bool:
    """True when the request's work must run in the process that answers it."""
    if "command" in body:
        # `/feedback` alone opens the forwarding form; help, stats and mine answer with
        # what they looked up, so nothing is left to do after the answer (a text that only
        # starts like one, "stats broken", is feedback, and merely finished here too).
        words = str(body.get("text") or "").strip().lower().split()
        return body.get("command") == COMMAND and (not words or words[0] in _ANSWERS)
    kind = body.get("type")
    if kind == "block_actions":
        return any(isinstance(action, dict) and action.get("action_id") in _OPEN_MODALS
                   for action in body.get("actions") or ())
    if kind in ("message_action", "shortcut"):
        return body.get("callback_id") == SHORTCUT_CALLBACK
    if kind == "view_submission":
        return (body.get("view") or {}).get("callback_id") == MODAL_CALLBACK
    return False
