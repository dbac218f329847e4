"""Posts in intake channels: which messages become items, and with what time and author."""

from __future__ import annotations

import pytest

from bot.models import ts_to_datetime
from handlers.slack.standin.payloads import event_callback, forwarded_message_event, message_event
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from tests.slack_harness import (
    config_with,
    inbox_count,
    make_fake_slack,
    past_ts,
    posts,
    posts_anywhere_in,
    running_bot,
    wait_for_post,
)

FILES = [
    {
        "id": "F0CRASH",
        "name": "crash.png",
        "title": "crash.png",
        "mimetype": "image/png",
        "filetype": "png",
        "size": 2048,
    }
]


async def send(running, event: dict) -> None:
    response = await running.slack.send_event(event_callback(event))
    assert response.status == 200
    await running.settle()


async def assert_no_item(running, slack) -> None:
    await running.settle()
    assert running.store.list_items() == []
    assert slack.calls_to("chat.postMessage") == []
    assert running.store.inbox_pending() == []  # handled, not left failing


async def test_plain_post_becomes_an_item_with_its_own_time(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(
            channel="C0INTAKE", user="U0SUPPORT", text="The Android app crashes on login"
        )
        await send(running, event)
        [item] = running.store.list_items()
        assert item.team == "mobile" and item.intake_kind == "channel"
        assert item.text == "The Android app crashes on login"
        assert item.forwarded_by == "U0SUPPORT" and item.source_author == "U0SUPPORT"
        assert (item.source_channel, item.source_ts) == ("C0INTAKE", event["ts"])
        assert item.received_at == item.forwarded_at == ts_to_datetime(event["ts"])
        [card] = posts(slack, "C0MOBILE")
        assert "crashes on login" in card.args["text"]
        assert item.card_ts == card.response["ts"]


async def test_file_share_with_text_is_an_item_and_records_the_files(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(
            channel="C0INTAKE",
            user="U0SUPPORT",
            subtype="file_share",
            text="Screenshot of the double charge",
            files=FILES,
        )
        await send(running, event)
        [item] = running.store.list_items()
        assert item.text == "Screenshot of the double charge"
        assert item.team == "payments"
        received = running.store.events_for(workspace=item.workspace, item_id=item.id)[0]
        assert received.kind == "received"
        assert received.data["files"] == ["crash.png"]
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_file_share_without_text_is_still_an_item(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(
            channel="C0INTAKE", user="U0SUPPORT", subtype="file_share", text="", files=FILES
        )
        await send(running, event)
        [item] = running.store.list_items()
        assert "crash.png" in item.text


async def test_forwarded_message_takes_the_originals_words_author_and_time(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        original_ts = past_ts(3 * 3600)
        slack.add_message(
            "C0ACMESHARED", user="U0CUSTOMER", ts=original_ts, text="We were double charged again"
        )
        event = forwarded_message_event(
            channel="C0INTAKE",
            user="U0SUPPORT",
            text="Second time this week <!here>",
            original_text="We were double charged again",
            original_author="U0CUSTOMER",
            original_ts=original_ts,
            original_channel="C0ACMESHARED",
        )
        await send(running, event)
        [item] = running.store.list_items()
        assert item.text == "We were double charged again"
        assert item.source_author == "U0CUSTOMER"
        assert item.note == "Second time this week <!here>"
        assert item.received_at == ts_to_datetime(original_ts)
        assert item.forwarded_at == ts_to_datetime(event["ts"])
        assert (item.source_channel, item.source_ts) == ("C0ACMESHARED", original_ts)
        assert item.forwarded_by == "U0SUPPORT"
        assert item.customer == "acme" and item.team == "payments"
        [card] = posts(slack, "C0PAYMENTS")
        assert "<!here>" not in str(card.args)
        notices = await wait_for_post(slack, "C0INTAKE")
        assert notices[0].args["thread_ts"] == event["ts"]
        assert posts_anywhere_in(slack, "C0ACMESHARED") == []


async def test_the_same_original_forwarded_twice_gives_one_item(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        original_ts = past_ts(600)
        for forwarder in ("U0SUPPORT", "U0SUPPORT2"):
            await send(
                running,
                forwarded_message_event(
                    channel="C0INTAKE",
                    user=forwarder,
                    text="",
                    original_text="Login fails on iOS",
                    original_author="U0CUSTOMER",
                    original_ts=original_ts,
                    original_channel="C0ACMESHARED",
                ),
            )
        [item] = running.store.list_items()
        assert item.forwarded_by == "U0SUPPORT"
        assert len(posts(slack, "C0MOBILE") + posts(slack, "C0PAYMENTS")) == 1


def _current_forward(event: dict, *, keep: tuple[str, ...] = ()) -> dict:
    """The forward as Slack sends it now: `is_msg_unfurl` only, and only the fields in `keep`
    besides the link, blocks and fallback that every such attachment has."""
    [original] = event["attachments"]
    always = ("id", "is_msg_unfurl", "message_blocks", "from_url", "original_url", "fallback",
              "author_subname", "footer", "color")
    event["attachments"] = [{key: value for key, value in original.items()
                             if key in always or key in keep}]
    event["attachments"][0].setdefault("original_url", original.get("from_url"))
    return event


@pytest.mark.parametrize("keep", [("ts", "channel_id", "text", "author_id"), ("author_id",), ()])
async def test_the_current_forward_shape_takes_the_customers_words_and_time_once(tmp_path, keep):
    # Slack's current "Forward message" marks the original is_msg_unfurl and may leave
    # out is_share, the top-level ts and channel, and even the text.
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        original_ts = past_ts(2 * 3600)
        for forwarder in ("U0SUPPORT", "U0SUPPORT2"):
            await send(running, _current_forward(forwarded_message_event(
                channel="C0INTAKE", user=forwarder, text="From Acme, urgent",
                original_text="We were double charged again", original_author="U0CUSTOMER",
                original_ts=original_ts, original_channel="C0ACMESHARED"), keep=keep))
        [item] = running.store.list_items()
        assert item.text == "We were double charged again"
        assert item.note == "From Acme, urgent"
        assert item.received_at == ts_to_datetime(original_ts)
        assert (item.source_channel, item.source_ts) == ("C0ACMESHARED", original_ts)
        if "author_id" in keep:
            assert item.source_author == "U0CUSTOMER"
        assert len(posts(slack, "C0PAYMENTS")) == 1


def _changed(channel: str) -> dict:
    ts = past_ts(60)
    event = message_event(channel=channel, user=None, text="", subtype="message_changed")
    event.update(
        hidden=True,
        message={
            "type": "message",
            "user": "U0SUPPORT",
            "ts": ts,
            "text": "refund please (edited)",
        },
        previous_message={
            "type": "message",
            "user": "U0SUPPORT",
            "ts": ts,
            "text": "refund please",
        },
    )
    return event


def _deleted(channel: str) -> dict:
    event = message_event(channel=channel, user=None, text="", subtype="message_deleted")
    event.update(
        hidden=True,
        deleted_ts=past_ts(60),
        previous_message={"type": "message", "user": "U0SUPPORT", "text": "refund"},
    )
    return event


NOT_ITEMS = {
    "thread-reply": lambda: message_event(
        channel="C0INTAKE",
        user="U0SUPPORT",
        text="the refund also failed",
        thread_ts=past_ts(60),
        parent_user_id="U0SUPPORT2",
    ),
    "thread-broadcast": lambda: message_event(
        channel="C0INTAKE",
        user="U0SUPPORT",
        text="refund update",
        subtype="thread_broadcast",
        thread_ts=past_ts(60),
    ),
    "message-changed": lambda: _changed("C0INTAKE"),
    "message-deleted": lambda: _deleted("C0INTAKE"),
    "channel-join": lambda: message_event(
        channel="C0INTAKE",
        user="U0SUPPORT2",
        subtype="channel_join",
        text="<@U0SUPPORT2> has joined the channel",
    ),
    "channel-topic": lambda: message_event(
        channel="C0INTAKE", user="U0SUPPORT", subtype="channel_topic", text="set the topic: refunds"
    ),
    "own-post": lambda: message_event(
        channel="C0INTAKE",
        user="U0BOT",
        bot_id="B0BOT",
        text="Feedback #1 went to payments (refund)",
    ),
    "own-bot-message": lambda: message_event(
        channel="C0INTAKE", user=None, bot_id="B0BOT", subtype="bot_message", text="refund"
    ),
    "other-bot": lambda: message_event(
        channel="C0INTAKE",
        user=None,
        bot_id="B0ZENDESK",
        subtype="bot_message",
        text="Ticket: refund missing",
    ),
    "other-bot-with-user": lambda: message_event(
        channel="C0INTAKE", user="U0ZENDESK", bot_id="B0ZENDESK", text="Ticket: refund"
    ),
    "customer": lambda: {
        **message_event(channel="C0INTAKE", user="U0CUSTOMER", team="T0ACME", text="refund please"),
        "user_team": "T0ACME",
        "source_team": "T0ACME",
    },
    "customer-without-team-fields": lambda: message_event(
        channel="C0INTAKE", user="U0CUSTOMER", text="refund please"
    ),
    "guest": lambda: message_event(channel="C0INTAKE", user="U0GUEST", text="refund please"),
    "unknown-user": lambda: message_event(channel="C0INTAKE", user="U0NOBODY", text="refund"),
    "not-an-intake-channel": lambda: message_event(
        channel="C0GENERAL", user="U0SUPPORT", text="refund never arrived"
    ),
    "no-ts": lambda: {
        key: value
        for key, value in message_event(channel="C0INTAKE", user="U0SUPPORT", text="refund").items()
        if key != "ts"
    },
}


# The bot's own posts are recognised before anything is stored (Slack echoes every one).
NOT_STORED = {"own-post", "own-bot-message"}


@pytest.mark.parametrize("name", list(NOT_ITEMS))
async def test_messages_that_are_not_new_feedback(tmp_path, name):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await send(running, NOT_ITEMS[name]())
        await assert_no_item(running, slack)
        assert inbox_count(running) == (0 if name in NOT_STORED else 1)


async def test_allow_listed_bot_posts_become_items(tmp_path):
    config = config_with(bots=["B0ZENDESK"])
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "bot.db", config=config) as running,
    ):
        event = message_event(
            channel="C0INTAKE",
            user=None,
            bot_id="B0ZENDESK",
            subtype="bot_message",
            text="Ticket 42: refund missing for Acme",
        )
        await send(running, event)
        [item] = running.store.list_items()
        assert item.team == "payments"
        assert item.forwarded_by == "B0ZENDESK"
        assert item.received_at == ts_to_datetime(event["ts"])
        assert len(posts(slack, "C0PAYMENTS")) == 1


async def test_allow_list_admits_only_the_listed_bot(tmp_path):
    config = config_with(bots=["B0ZENDESK"])
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "bot.db", config=config) as running,
    ):
        await send(
            running,
            message_event(
                channel="C0INTAKE",
                user=None,
                bot_id="B0OTHER",
                subtype="bot_message",
                text="refund missing",
            ),
        )
        await send(
            running,
            message_event(channel="C0INTAKE", user="U0BOT", bot_id="B0BOT", text="refund missing"),
        )
        await assert_no_item(running, slack)


async def test_allow_listing_our_own_bot_still_ignores_its_posts(tmp_path):
    config = config_with(bots=["B0BOT"])
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "bot.db", config=config) as running,
    ):
        await send(
            running,
            message_event(
                channel="C0INTAKE",
                user="U0BOT",
                bot_id="B0BOT",
                text="Feedback #3 went to payments",
            ),
        )
        await assert_no_item(running, slack)


async def test_two_posts_are_two_items(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        await send(
            running, message_event(channel="C0INTAKE", user="U0SUPPORT", text="Refund missing")
        )
        await send(
            running, message_event(channel="C0INTAKE", user="U0SUPPORT2", text="iOS app crashes")
        )
        items = running.store.list_items()
        assert sorted(item.team for item in items) == ["mobile", "payments"]


async def test_grid_colleague_from_a_sibling_workspace_counts_as_internal(tmp_path):
    async with FakeSlack(team_id="T0DEMO", enterprise_id="E0GRID") as slack:
        seed_workspace(slack)
        slack.add_user("U0SIBLING", "sibling", team_id="T0SIBLING")
        slack.workspace.users["U0SIBLING"]["enterprise_user"] = {
            "id": "U0SIBLING",
            "enterprise_id": "E0GRID",
            "enterprise_name": "Demo Grid",
            "teams": ["T0DEMO", "T0SIBLING"],
        }
        async with running_bot(slack, tmp_path / "bot.db") as running:
            for user, team in (("U0SIBLING", "T0SIBLING"), ("U0CUSTOMER", "T0ACME")):
                event = {
                    **message_event(
                        channel="C0INTAKE",
                        user=user,
                        team=team,
                        text=f"refund missing, says {user}",
                    ),
                    "user_team": team,
                    "source_team": team,
                }
                response = await running.slack.send_event(
                    event_callback(event, enterprise_id="E0GRID")
                )
                assert response.status == 200
            await running.settle()
            [item] = running.store.list_items()
            assert item.forwarded_by == "U0SIBLING"
            assert item.workspace == "E0GRID:T0DEMO"


async def test_an_allow_listed_bot_post_with_only_attachments_is_forwarded(tmp_path):
    config = config_with(bots=["B0ZENDESK"])
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "bot.db", config=config) as running,
    ):
        event = message_event(
            channel="C0INTAKE", user=None, bot_id="B0ZENDESK", subtype="bot_message", text="",
            attachments=[{"title": "Ticket #812", "text": "Acme: refund never arrived",
                          "fallback": "Ticket #812"}],
        )
        await send(running, event)
        [item] = running.store.list_items()
        assert item.text == "Ticket #812\nAcme: refund never arrived"
        assert item.team == "payments"


async def test_a_post_whose_words_are_only_in_blocks_is_forwarded(tmp_path):
    async with make_fake_slack() as slack, running_bot(slack, tmp_path / "bot.db") as running:
        event = message_event(channel="C0INTAKE", user="U0SUPPORT", text="", blocks=[{
            "type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
                {"type": "text", "text": "The android app crashes on start"}]}]}])
        await send(running, event)
        [item] = running.store.list_items()
        assert item.text == "The android app crashes on start" and item.team == "mobile"
