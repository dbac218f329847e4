"""Intake through the "Forward to feedback" message shortcut and the forwarding modal."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.intake import IntakeRejected
from bot.models import (
    SEVERITIES,
    IntakeKind,
    IntakeRequest,
    Item,
    SourceMessage,
    parse_iso,
    ts_to_datetime,
)
from handlers.slack.deps import Deps, SlackCall, tell, tracked
from handlers.slack.messages import words_of
from handlers.slack.render import MODAL_INPUT_LIMIT, escape
from handlers.slack.words import rejection_text

log = logging.getLogger(__name__)

SHORTCUT_CALLBACK = "forward_feedback"
MODAL_CALLBACK = "feedback_submit"
TRY_AGAIN = ("Slack gave me only 3 seconds to open the form and the moment passed."
             " Nothing was forwarded; please try again.")


def _option(value: str, label: str | None = None) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": (label or value)[:75]}, "value": value[:150]}


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
           ) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "optional": optional,
            "label": {"type": "plain_text", "text": label}, "element": element}


SAME_BLOCK = "same"  # "It's new" or "Same as #123 …": value "new" or "link:<item id>"
NEW_CHOICE = "new"
LINK_PREFIX = "link:"


def same_block(choices: list[tuple[int, str]]) -> dict[str, Any]:
    """Radio buttons: "It's new" (the default) or "Same as" one of the closest items."""
    new = _option(NEW_CHOICE, "It's new")
    options = [new, *(_option(f"{LINK_PREFIX}{item_id}", label)
                      for item_id, label in choices[:9])]
    return _input(SAME_BLOCK, "Already reported?", {
        "type": "radio_buttons", "action_id": "value", "options": options,
        "initial_option": new})


def candidate_choices(deps: Deps, *, workspace: str, text: str,
                      team: str) -> list[tuple[int, str]]:
    """The items this text may be a +1 of, as (id, "Same as #123 (mobile, acme): …")."""
    try:
        found = deps.runtime.links.candidates(workspace=workspace, text=text, team=team,
                                              floor=CANDIDATE_FLOOR)
    except Exception:  # the form opens without them rather than not at all
        log.exception("could not list similar items for the form")
        return []
    choices = []
    for item in found:
        who = f", {item.customer}" if item.customer else ""
        said = " ".join(item.text.split())
        choices.append((item.id, f"Same as #{item.id} ({item.team}{who}): {said}"[:75]))
    return choices


def _item_id(text: str) -> int | None:
    """An item id chosen in the form, or None when it can't be one (forged values)."""
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


# Candidates scoring below this say too little in common to be worth listing.
CANDIDATE_FLOOR = 0.2


def forward_modal(deps: Deps, *, draft_id: int, text: str, team: str, customer: str | None,
                  truncated: bool, workspace: str | None = None,
                  choices: list[tuple[int, str]] | None = None) -> dict[str, Any]:
    """The modal with the text prefilled and the suggested team, customer and severity.

    `choices` are items it may be a +1 of (listed under "It's new", the default).
    """
    config = deps.config_for(workspace)
    teams = list(config.teams)[:100]
    text_element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value",
                                    "multiline": True, "max_length": MODAL_INPUT_LIMIT}
    if text:
        text_element["initial_value"] = text
    customer_element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value",
                                        "max_length": 150}
    if customer:
        customer_element["initial_value"] = customer[:150]
    severity = config.severity_default
    blocks = [
        _input("text", "Customer's words", text_element),
        _input("team", "Team", {"type": "static_select", "action_id": "value",
                                "options": [_option(name) for name in teams],
                                "initial_option": _option(team)}),
        _input("customer", "Customer", customer_element, optional=True),
        _input("severity", "Severity", {"type": "static_select", "action_id": "value",
                                        "options": [_option(s) for s in SEVERITIES],
                                        "initial_option": _option(severity)}),
        _input("note", "Note for the team", {"type": "plain_text_input", "action_id": "value",
                                             "multiline": True, "max_length": 2000},
               optional=True),
    ]
    if choices:
        blocks.insert(1, same_block(choices))
    if truncated:
        blocks.insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"The message is longer than {MODAL_INPUT_LIMIT:,} characters. Only the start is"
            " shown; unless you edit it, the full text is forwarded.")}]})
    return {
        "type": "modal", "callback_id": MODAL_CALLBACK,
        "title": {"type": "plain_text", "text": "Forward feedback"},
        "submit": {"type": "plain_text", "text": "Forward"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"draft": draft_id}),
        "blocks": blocks,
    }


def info_modal(text: str) -> dict[str, Any]:
    """A modal that only says something."""
    return {"type": "modal", "title": {"type": "plain_text", "text": "Feedback"},
            "close": {"type": "plain_text", "text": "OK"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def already_forwarded(item: Item) -> str:
    """Words for a message that already has an item."""
    return f"This was already forwarded as feedback #{item.id} to *{escape(item.team)}*."


async def open_forward_modal(deps: Deps, call: SlackCall, *, draft: dict[str, Any]) -> None:
    """Save the draft on the server, then open the modal at once (triggers live 3 s)."""
    workspace = call.workspace
    user = str((call.body.get("user") or {}).get("id") or call.body.get("user_id") or "")
    if call.replay:
        tell(deps, workspace, user, TRY_AGAIN)
        return
    if not await deps.intake.may_forward(workspace=workspace, user=user):
        # Guests and people from other organisations can't forward; say so privately.
        tell(deps, workspace, user, "Only members of this workspace can forward feedback.")
        return
    text = str(draft.get("text") or "")
    prefill = text[:MODAL_INPUT_LIMIT]
    draft["prefill"] = prefill
    route, customer = deps.intake.suggest(text=text, channel=draft.get("context_channel"),
                                          workspace=workspace)
    draft_id = deps.intake.keep_draft(workspace=workspace, data=draft)
    choices = candidate_choices(deps, workspace=workspace, text=text, team=route.team) \
        if text.strip() else []
    view = forward_modal(deps, draft_id=draft_id, text=prefill, team=route.team,
                         customer=customer, truncated=len(text) > len(prefill),
                         workspace=workspace, choices=choices)
    await open_view(deps, call, view)


async def open_view(deps: Deps, call: SlackCall, view: dict[str, Any]) -> None:
    """Open a modal now; if the trigger has expired, tell the person to try again."""
    try:
        await call.client.views_open(trigger_id=call.body["trigger_id"], view=view)
    except SlackApiError as error:
        if error.response.get("error") in ("expired_trigger_id", "invalid_trigger_id"):
            user = str((call.body.get("user") or {}).get("id") or call.body.get("user_id"))
            tell(deps, call.workspace, user, TRY_AGAIN)
            return
        raise




def state_value(state: dict[str, Any], block: str) -> str | None:
    """The value a modal's input block holds: typed text, or the chosen option."""
    element = (state.get(block) or {}).get("value") or {}
    if element.get("type") == "static_select" or "selected_option" in element:
        option = element.get("selected_option") or {}
        return option.get("value")
    value = element.get("value")
    return str(value) if value is not None else None


def register(app: AsyncApp, deps: Deps) -> None:
    """Add the message shortcut and the modal's submission listener."""

    async def on_shortcut(call: SlackCall) -> None:
        await call.ack()
        body = call.body
        channel = str((body.get("channel") or {}).get("id") or "")
        message = body.get("message") or {}
        words = words_of(message, channel=channel)
        existing = deps.intake.already_forwarded(
            workspace=call.workspace, conversation=str(words.source_channel),
            message=str(words.source_ts))
        if existing is not None:
            if not call.replay:
                await open_view(deps, call, info_modal(already_forwarded(existing)))
            return
        draft = {
            "kind": IntakeKind.SHORTCUT.value, "text": words.text, "note": words.note,
            "source_channel": words.source_channel, "source_ts": words.source_ts,
            "said_ts": words.said_ts, "author": words.author, "permalink": words.permalink,
            "files": list(words.files), "context_channel": channel,
        }
        await open_forward_modal(deps, call, draft=draft)

    async def on_submit(call: SlackCall) -> None:
        view = call.body.get("view") or {}
        state = (view.get("state") or {}).get("values") or {}
        workspace = call.workspace
        user = str((call.body.get("user") or {}).get("id") or "")
        try:
            draft_id = int(json.loads(view.get("private_metadata") or "{}").get("draft", 0))
        except (ValueError, TypeError, AttributeError):
            draft_id = 0
        draft = deps.intake.draft(workspace=workspace, draft_id=draft_id) or {}
        submitted = (state_value(state, "text") or "").strip()
        if not submitted:
            await call.ack(response_action="errors",
                           errors={"text": "Add the customer's words to forward."})
            return
        # An unedited prefill stands for the full text kept on the server.
        text = str(draft.get("text") or submitted) if submitted == str(
            draft.get("prefill") or "").strip() else submitted
        note_parts = [part for part in (draft.get("note"), state_value(state, "note")) if part]
        same = state_value(state, SAME_BLOCK)
        link_to = None
        if same and same.startswith(LINK_PREFIX):
            link_to = _item_id(same[len(LINK_PREFIX):])
            if link_to is None:
                await call.ack(response_action="errors",
                               errors={SAME_BLOCK: "Choose one of the items listed."})
                return
        said = draft.get("said_ts")
        now = deps.clock()
        request = IntakeRequest(
            workspace=workspace,
            kind=IntakeKind(draft.get("kind") or IntakeKind.COMMAND.value),
            text=text, forwarded_by=user,
            received_at=ts_to_datetime(said) if said else (
                parse_iso(draft.get("forwarded_at")) or now),
            forwarded_at=now,
            source=SourceMessage(channel=draft.get("source_channel"),
                                 ts=draft.get("source_ts"), author=draft.get("author"),
                                 permalink=draft.get("permalink")),
            note="\n".join(str(part) for part in note_parts) or None,
            team=state_value(state, "team"),
            customer=(state_value(state, "customer") or "").strip() or None,
            severity=state_value(state, "severity"),
            files=tuple(draft.get("files") or ()),
            intake_key=f"view:{view.get('id')}",
            link_to=link_to, as_new=same == NEW_CHOICE,
        )
        try:
            result = await deps.intake.forward(request, port=deps.port)
        except IntakeRejected as rejected:
            block = SAME_BLOCK if rejected.code == "no_such_item" else "text"
            await call.ack(response_action="errors", errors={block: rejection_text(rejected)})
            return
        if not result.created and result.item.intake_key != request.intake_key:
            await call.ack(response_action="update",
                           view=info_modal(already_forwarded(result.item)))
            return
        await call.ack()

    app.shortcut(SHORTCUT_CALLBACK)(tracked(deps, on_shortcut))
    app.view(MODAL_CALLBACK)(tracked(deps, on_submit))
