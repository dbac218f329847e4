"""The /feedback slash command: forward text, open the modal, or show help."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.intake import IntakeRejected
from bot.models import IntakeKind, IntakeRequest, SourceMessage, iso
from handlers.slack.deps import Deps, SlackCall, tracked
from handlers.slack.intake_modal import open_forward_modal
from handlers.slack.render import escape

COMMAND = "/feedback"

HELP = """*How to forward customer feedback*
• `/feedback <the customer's words>` forwards that text to the team that owns it.
• `/feedback` on its own opens a form where you can pick the team, customer and severity.
• On any message: *More actions* (⋯) → *Forward to feedback*.
• Add the :{reaction}: emoji to a message, or post in an intake channel.
I'll tell you where it went, and relay the team's answer back to you.
`/feedback help` shows this."""

# Subcommands count only when they are the whole text: "mine keeps crashing" is feedback.
_LATER = re.compile(r"^(mine|stats(\s+\S+)?(\s+(7d|30d))?)$", re.IGNORECASE)


def register(app: AsyncApp, deps: Deps) -> None:
    """Add the /feedback listener."""

    async def on_command(call: SlackCall) -> None:
        body = call.body
        text = str(body.get("text") or "").strip()
        reaction = deps.config.intake.reaction or "inbox_tray"
        if text.lower() == "help":
            await call.ack(text=HELP.format(reaction=reaction))
            return
        if _LATER.match(text):
            await call.ack(text=f"`{COMMAND} {escape(text)}` isn't available in this version"
                           " yet. Try `/feedback help`.")
            return
        if not text:
            await call.ack()
            now = deps.clock()
            draft = {"kind": IntakeKind.COMMAND.value, "text": "", "forwarded_at": iso(now),
                     "source_channel": body.get("channel_id"), "context_channel":
                     body.get("channel_id")}
            await open_forward_modal(deps, call, draft=draft)
            return
        now = deps.clock()
        request = IntakeRequest(
            workspace=call.workspace, kind=IntakeKind.COMMAND, text=text,
            forwarded_by=str(body.get("user_id") or ""), received_at=now, forwarded_at=now,
            source=SourceMessage(channel=body.get("channel_id"), ts=None),
            intake_key=f"command:{body.get('trigger_id')}",
        )
        try:
            result = await deps.intake.forward(request)
        except IntakeRejected as rejected:
            await call.ack(text=f":no_entry: {escape(str(rejected))}")
            return
        await call.ack(text=(
            f":inbox_tray: Forwarded to *{escape(result.item.team)}* as feedback"
            f" #{result.item.id}. I'll message you when they respond."))

    app.command(COMMAND)(tracked(deps, on_command))
