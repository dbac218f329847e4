"""The core answers with codes and data; each platform words them (Slack: handlers/slack/words)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import Config
from bot.intake import IntakeRejected, IntakeService
from bot.lifecycle import Lifecycle, Outcome
from bot.models import SEVERITIES
from bot.store import Store
from handlers.slack.words import OUTCOMES, outcome_text, rejection_text
from tests.fakes import FrozenClock, RecordingChatPort, intake_request


async def test_each_refusal_and_answer_is_a_code_with_its_data(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort(internal_users={"U0SUPPORT", "U0ALICE", "U0ZOE"})
    life = Lifecycle(store=fresh_store, config=example_config, port=chat, clock=clock)
    item = (await intake.forward(intake_request(at=clock(), text="the refund never arrived"))
            ).item
    ws, number = "T0WORK", item.id
    clock.advance(timedelta(minutes=1))

    async def codes(*calls) -> list[tuple[str | None, dict]]:
        return [((outcome := await call).code, outcome.data) for call in calls]

    assert await codes(
        life.acknowledge(workspace=ws, item_id=999, user="U0ALICE", kind="button"),
        life.acknowledge(workspace=ws, item_id=number, user="U0ZOE", kind="button"),
        life.acknowledge(workspace=ws, item_id=number, user="U0ALICE", kind="button"),
        life.acknowledge(workspace=ws, item_id=number, user="U0BOB", kind="button"),
        life.resolve(workspace=ws, item_id=number, user="U0ZOE", note=None),
        life.reopen(workspace=ws, item_id=number, user="U0ALICE"),
        life.reassign(workspace=ws, item_id=number, user="U0ALICE", to_team="nobody"),
        life.reassign(workspace=ws, item_id=number, user="U0ALICE", to_team="payments"),
        life.follow(workspace=ws, item_id=number, user="U0GUEST"),
        life.follow(workspace=ws, item_id=number, user="U0SUPPORT"),
        life.follow(workspace=ws, item_id=number, user="U0ZOE"),
        life.follow(workspace=ws, item_id=number, user="U0ZOE"),
        life.resolve(workspace=ws, item_id=number, user="U0ALICE", note="fixed"),
        life.resolve(workspace=ws, item_id=number, user="U0ALICE", note=None),
        life.check_manage(workspace=ws, item_id=number, user="U0ZOE"),
        life.check_manage(workspace=ws, item_id=number, user="U0ALICE"),
    ) == [
        ("not_found", {}),
        ("not_on_team", {"team": "payments"}),
        (None, {}),
        ("already_responded", {}),
        ("not_yours", {"team": "payments"}),
        ("not_resolved", {}),
        ("no_such_team", {"team": "nobody"}),
        ("already_with_team", {"team": "payments"}),
        ("not_internal", {}),
        ("forwarder_follows", {}),
        ("followed", {"team": "payments", "item_id": number}),
        ("already_following", {"item_id": number}),
        (None, {}),
        ("already_resolved", {}),
        ("not_yours", {"team": "payments"}),
        (None, {}),
    ]


async def test_slack_words_every_code_as_it_always_has(
    fresh_store: Store, example_config: Config, clock: FrozenClock, intake: IntakeService
) -> None:
    chat = RecordingChatPort(internal_users={"U0SUPPORT", "U0ZOE"})
    life = Lifecycle(store=fresh_store, config=example_config, port=chat, clock=clock)
    item = (await intake.forward(intake_request(at=clock(), text="the refund never arrived"))
            ).item
    followed = await life.follow(workspace="T0WORK", item_id=item.id, user="U0ZOE")
    moved = await life.reassign(workspace="T0WORK", item_id=item.id, user="U0ALICE",
                                to_team="nobody")
    assert outcome_text(followed) == (
        f"You'll hear what *payments* says about feedback #{item.id}.")
    assert outcome_text(moved) == "There is no team called 'nobody'."
    # Every code Slack words is one the core documents.
    assert all(code in (Outcome.__doc__ or "") for code in OUTCOMES)


async def test_refused_forwarding_is_a_code_that_slack_words_as_before(
    intake: IntakeService, clock: FrozenClock
) -> None:
    empty = intake.problem(intake_request(at=clock(), text="  "))
    no_team = intake.problem(intake_request(at=clock(), team="nobody"))
    severity = intake.problem(intake_request(at=clock(), severity="meh"))
    with pytest.raises(IntakeRejected) as outsider:
        await intake.forward(intake_request(at=clock(), forwarded_by="U0GUEST"))
    rejections = [empty, no_team, severity, outsider.value]
    assert [(r.code, r.data) for r in rejections if r is not None] == [
        ("no_text", {}), ("no_such_team", {"team": "nobody"}),
        ("bad_severity", {"severities": list(SEVERITIES)}), ("not_internal", {})]
    assert [rejection_text(r) for r in rejections if r is not None] == [
        "There is no text to forward.", "There is no team called 'nobody'.",
        f"Severity must be one of {', '.join(SEVERITIES)}.",
        "Only members of this workspace can forward feedback."]
    # Plain words for whoever has no wording of its own.
    assert [str(r) for r in rejections if r is not None] == [
        rejection_text(r) for r in rejections if r is not None]
