"""The /feedback slash command: forward text, open the modal, or show help."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.config import Config
from bot.intake import IntakeRejected
from bot.lifecycle import Lifecycle
from bot.models import IntakeKind, IntakeRequest, SourceMessage, iso
from handlers.slack.chat_views import MINE, mine_text, parse_stats, staff_only, stats_text
from handlers.slack.deps import Deps, SlackCall, tell, tracked
from handlers.slack.intake_modal import open_forward_modal
from handlers.slack.link_actions import link_text
from handlers.slack.render import escape
from handlers.slack.words import rejection_text

COMMAND = "/feedback"
UNLINK = re.compile(r"unlink\s+#?(\d{1,18})", re.IGNORECASE)

HELP = """*How to forward customer feedback*
• `/feedback <the customer's words>` forwards that text to the team that owns it.
• `/feedback` on its own opens a form where you can pick the team, customer and severity.
• On any message: *More actions* (⋯) → *Forward to feedback*.
{more}I'll tell you where it went, and relay the team's answer back to you.
`/feedback mine` lists what is waiting on you; `/feedback stats [team] [7d|30d]` shows
time to response; `/feedback unlink 124` makes a +1 its own item again (for the owning
team). `/feedback help` shows this."""


def help_text(config: Config) -> str:
    """The help, naming only the intake ways this deployment has switched on."""
    more = []
    if config.intake.reaction:
        more.append(f"• Add the :{config.intake.reaction}: emoji to any message.\n")
    if config.intake.channels:
        channels = ", ".join(f"<#{channel}>" for channel in config.intake.channels)
        more.append(f"• Post it in {channels}.\n")
    return HELP.format(more="".join(more))


def register(app: AsyncApp, deps: Deps, lifecycle: Lifecycle) -> None:
    """Add the /feedback listener."""

    async def on_command(call: SlackCall) -> None:
        body = call.body
        text = str(body.get("text") or "").strip()
        if text.lower() == "help":
            await call.ack(text=help_text(deps.config_for(call.workspace)))
            return
        # Subcommands count only when they are the whole text: "mine keeps crashing"
        # is feedback, and so is "stats broken" (no team is called "broken").
        stats = parse_stats(text, deps.config_for(call.workspace))
        if stats is not None or MINE.match(text):
            # Figures and item lists are internal: never for guests or other organisations.
            refusal = await staff_only(deps, workspace=call.workspace,
                                       user=str(body.get("user_id") or ""))
            if refusal:
                await call.ack(text=refusal)
                return
        unlink = UNLINK.fullmatch(text)
        if unlink is not None:
            outcome = await deps.runtime.links.unlink(
                workspace=call.workspace, item_id=int(unlink.group(1)),
                user=str(body.get("user_id") or ""))
            await call.ack(text=link_text(outcome) or "Done.")
            deps.runtime.outbox.wake()
            return
        if stats is not None:
            team, days = stats
            await call.ack(text=await stats_text(deps, workspace=call.workspace, team=team,
                                           days=days))
            return
        if MINE.match(text):
            await call.ack(text=await mine_text(deps, workspace=call.workspace,
                                                user=str(body.get("user_id") or "")))
            return
        if not text:
            await call.ack()
            now = deps.clock()
            draft = {
                "kind": IntakeKind.COMMAND.value,
                "text": "",
                "forwarded_at": iso(now),
                "source_channel": body.get("channel_id"),
                "context_channel": body.get("channel_id"),
            }
            await open_forward_modal(deps, call, draft=draft)
            return
        now = deps.clock()
        request = IntakeRequest(
            workspace=call.workspace,
            kind=IntakeKind.COMMAND,
            text=text,
            forwarded_by=str(body.get("user_id") or ""),
            received_at=now,
            forwarded_at=now,
            source=SourceMessage(channel=body.get("channel_id"), ts=None),
            intake_key=f"command:{body.get('trigger_id')}",
        )
        problem = deps.intake.problem(request)
        if problem is not None:
            await call.ack(text=f":no_entry: {escape(rejection_text(problem))}")
            return
        # Routing is pure, so the answer can name the team at once; checking that the
        # person belongs to the workspace needs Slack, so it happens after the ack.
        route, _ = deps.intake.suggest(text=text, channel=request.source.channel,
                                       workspace=call.workspace)
        await call.ack(text=f":inbox_tray: Forwarding to *{escape(route.team)}*. I'll message"
                            " you where it went, and when they respond.")
        try:
            await deps.intake.forward(request, port=deps.port)
        except IntakeRejected as rejected:
            tell(deps, call.workspace, request.forwarded_by, rejection_text(rejected))

    app.command(COMMAND)(tracked(deps, on_command))
