"""The /feedback slash command: forward text, open the modal, or explain itself."""

from __future__ import annotations

import json

import pytest

from handlers.slack.standin.payloads import slash_command, view_submission
from tests.slack_harness import (
    card_header,
    config_with,
    forward_via_intake_channel,
    inbox_count,
    make_fake_slack,
    modal_values,
    opened_view,
    posts,
    posts_anywhere_in,
    running_bot,
    view_block,
    wait_for_post,
)

MOBILE_DEVS = {"U0CAROL", "U0ERIN"}


def ack_text(response) -> str:
    """The words of the immediate answer: plain text, or JSON; both are shown ephemerally."""
    body = response.json
    if isinstance(body, dict):
        assert body.get("response_type", "ephemeral") == "ephemeral"
        return str(body["text"])
    assert response.body
    return response.body


def mentioned(header: str, people: set[str]) -> set[str]:
    return {person for person in people if f"<@{person}>" in header}


async def command(
    running, text: str, *, user: str = "U0SUPPORT", channel: str = "C0GENERAL", **extra: str
):
    form = slash_command(text=text, user_id=user, channel_id=channel, **extra)
    response = await running.slack.send_command(form)
    assert response.status == 200
    return response, form


async def test_feedback_text_is_forwarded_and_acknowledged_naming_the_team(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "the app crashes on login")
        ack = ack_text(response)
        assert "mobile" in ack
        await running.settle()
        [item] = running.store.list_items()
        assert item.team == "mobile" and item.intake_kind == "command"
        assert item.text == "the app crashes on login"
        assert item.received_at == item.forwarded_at
        [card] = posts(slack, "C0MOBILE")
        assert len(mentioned(card_header(card), MOBILE_DEVS)) == 1
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        # The number comes with the DM: it is only known once the person is checked.
        assert "mobile" in dm.args["text"] and f"#{item.id}" in dm.args["text"]
        assert posts(slack, "C0GENERAL") == []


async def test_a_guest_using_the_command_is_told_privately_and_nothing_is_stored(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "refund please", user="U0GUEST")
        assert response.status == 200
        await running.settle()
        assert running.store.list_items() == []
        [dm] = await wait_for_post(slack, "U0GUEST")
        assert "Only members of this workspace" in dm.args["text"]


async def test_round_robin_mentions_each_group_member_in_turn(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await command(running, "the app crashes on login")
        await running.settle()
        await command(running, "the iOS app freezes", user="U0SUPPORT2")
        await running.settle()
        first, second = posts(slack, "C0MOBILE")
        first_mentions = mentioned(card_header(first), MOBILE_DEVS)
        second_mentions = mentioned(card_header(second), MOBILE_DEVS)
        assert len(first_mentions) == len(second_mentions) == 1
        assert first_mentions | second_mentions == MOBILE_DEVS
        items = running.store.list_items()
        assert [len(item.assignees) for item in items] == [1, 1]
        assert {items[0].assignees[0], items[1].assignees[0]} == MOBILE_DEVS


@pytest.mark.parametrize("text", ["help", "HELP", "  help  "])
async def test_help_explains_and_forwards_nothing(tmp_path, text):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, text)
        assert "/feedback" in ack_text(response)
        assert ":inbox_tray:" in ack_text(response)
        await running.settle()
        assert running.store.list_items() == []
        assert slack.calls_to("chat.postMessage") == []
        assert slack.calls_to("views.open") == []


@pytest.mark.parametrize(
    "text",
    [
        "mine keeps crashing",
        "help me, refunds fail",
        "stats are wrong on the invoice page",
        "mine!",
    ],
)
async def test_text_that_only_starts_like_a_subcommand_is_feedback(tmp_path, text):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, text)
        assert "Forwarding to" in ack_text(response)
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == text


@pytest.mark.parametrize(
    "text", ["mine", "stats", "stats payments", "stats payments 7d", "stats 30d"]
)
async def test_whole_text_subcommands_forward_nothing(tmp_path, text):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, text)
        assert ack_text(response)
        await running.settle()
        assert running.store.list_items() == []


async def test_feedback_alone_opens_the_modal_and_submitting_it_forwards(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        _, form = await command(running, "")
        [opened] = await slack.wait_for("views.open")
        assert opened.args["trigger_id"] == form["trigger_id"]
        view = opened_view(opened)
        assert view["type"] == "modal" and view["callback_id"] == "feedback_submit"
        assert "initial_value" not in view_block(view, "text")["element"]
        assert running.store.list_items() == []
        submission = view_submission(
            user_id="U0SUPPORT",
            callback_id="feedback_submit",
            view_id=view["id"],
            private_metadata=view["private_metadata"],
            values=modal_values(text="Exports time out", team="triage", severity="high"),
        )
        response = await running.slack.send_interaction(submission)
        assert response.status == 200
        assert not (response.json or {}).get("response_action")
        await running.settle()
        [item] = running.store.list_items()
        assert (item.team, item.severity, item.text) == ("triage", "high", "Exports time out")
        assert item.intake_kind == "command" and item.forwarded_by == "U0SUPPORT"
        assert len(posts(slack, "C0TRIAGE")) == 1


async def test_the_same_command_delivered_twice_forwards_once(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        form = slash_command(
            text="refund never arrived", user_id="U0SUPPORT", channel_id="C0GENERAL"
        )
        first = await running.slack.send_command(form)
        second = await running.slack.send_command(form)
        assert (first.status, second.status) == (200, 200)
        await running.settle()
        assert len(running.store.list_items()) == 1
        assert len(posts(slack, "C0PAYMENTS")) == 1
        assert inbox_count(running) == 1


async def test_empty_command_retried_opens_one_modal(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        form = slash_command(text="", user_id="U0SUPPORT", channel_id="C0GENERAL")
        for _ in range(2):
            assert (await running.slack.send_command(form)).status == 200
        await running.settle()
        assert len(slack.calls_to("views.open", include_failed=True)) == 1


async def test_command_in_a_shared_channel_never_posts_there(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "dashboard is slow", channel="C0ACMESHARED")
        assert "payments" in ack_text(response)
        await running.settle()
        [item] = running.store.list_items()
        assert item.customer == "acme" and item.team == "payments"
        await wait_for_post(slack, "U0SUPPORT")
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []


async def test_stats_naming_no_team_is_feedback_and_never_echoes_a_broadcast(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "stats <!channel>")
        assert "<!channel>" not in response.body
        assert "Forwarding to" in ack_text(response)
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == "stats <!channel>"


async def test_forwarded_text_with_a_broadcast_never_pings(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "exports fail <!channel> <@U0DAN>")
        assert "<!channel>" not in response.body
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == "exports fail <!channel> <@U0DAN>"
        [card] = posts(slack, "C0TRIAGE")
        assert "<!channel>" not in json.dumps(card.args)
        assert "&lt;@U0DAN&gt;" in json.dumps(card.args)


async def test_empty_command_with_an_expired_trigger_says_try_again(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        slack.expire_triggers = True
        await command(running, "")
        await running.settle()
        [dm] = await wait_for_post(slack, "U0SUPPORT")
        assert "try again" in dm.args["text"]
        assert running.store.list_items() == []


async def test_help_names_only_the_intake_ways_that_are_switched_on(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "help")
        assert "<#C0INTAKE>" in ack_text(response)
    config = config_with(reaction=None, channels=[])
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "other.db", config=config) as running,
    ):
        response, _ = await command(running, "help")
        assert ":inbox_tray:" not in ack_text(response)
        assert "<#" not in ack_text(response)
        assert "/feedback" in ack_text(response)


async def test_stats_and_mine_answer_the_caller_alone(tmp_path):


    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await forward_via_intake_channel(slack, running, "refund missing for acme")
        await forward_via_intake_channel(slack, running, "app crash on login")
        response, _ = await command(running, "stats payments 30d", user="U0ALICE")
        text = ack_text(response)
        assert "*payments*, last 30 days: 1 new" in text and "1 waiting now" in text
        assert "mobile" not in text
        assert running.store.list_items()[-1].text == "app crash on login"  # no new item

        response, _ = await command(running, "stats", user="U0ALICE")
        assert "All teams, last 7 days: 2 new" in ack_text(response)

        response, _ = await command(running, "mine", user="U0ALICE")
        text = ack_text(response)
        assert "Waiting for your team's response* (1)" in text and "refund missing" in text
        assert "app crash" not in text

        response, _ = await command(running, "mine", user="U0SUPPORT")
        assert "You forwarded, still waiting* (2)" in ack_text(response)
        assert len(running.store.list_items()) == 2


async def test_a_command_from_an_org_wide_grid_install_gets_a_clear_answer(tmp_path):
    # Org-wide installs are not supported yet; they used to be forwarded under another
    # workspace's key (or, on real Slack, refused by Bolt with "installation not found").
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        form = slash_command(text="refund never arrived", user_id="U0SUPPORT",
                             channel_id="C0GENERAL", enterprise_id="E0ORG")
        form["is_enterprise_install"] = "true"
        response = await running.slack.send_command(form)
        assert response.status == 200
        assert "org-wide" in ack_text(response) and "nothing was forwarded" in ack_text(response)
        await running.settle()
        assert running.store.list_items() == []
        assert running.store.inbox_pending() == []
        assert slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("who", ["U0GUEST", "U0CUSTOMER"])
@pytest.mark.parametrize("subcommand", ["stats", "stats payments 30d", "mine"])
async def test_guests_and_other_organisations_see_no_internal_figures(tmp_path, who,
                                                                      subcommand):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await forward_via_intake_channel(slack, running, "refund never arrived")
        response, _ = await command(running, subcommand, user=who)
        text = ack_text(response)
        assert "members of this workspace only" in text
        assert "payments" not in text and "refund" not in text
        # An employee still gets them.
        response, _ = await command(running, subcommand, user="U0SUPPORT")
        assert "members of this workspace only" not in ack_text(response)


async def test_feedback_mentioning_payload_is_forwarded_not_dropped(tmp_path):
    # Bolt reads a form body containing the word "payload" as an interaction and finds
    # nothing; the command used to be acknowledged and silently dropped.
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        response, _ = await command(running, "the payload endpoint returns 500 on refunds")
        assert "Forwarding to *payments*" in ack_text(response)
        await running.settle()
        [item] = running.store.list_items()
        assert item.text == "the payload endpoint returns 500 on refunds"
        assert len(posts(slack, "C0PAYMENTS")) == 1
