"""Two workspaces installed in one bot (OAuth mode): neither ever sees the other's items.

Items, cards, `/feedback stats`, App Home, exports and digests of workspace A show
nothing of B, and a B user's click on an A item id is refused. Everything goes over the
real protocol: OAuth installs, signed requests, the fake Slack's Web API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.cli import main
from handlers.slack.standin.payloads import (
    block_actions,
    event_callback,
    message_event,
    slash_command,
)
from tests.fakes import FrozenClock
from tests.oauth_harness import install, running_oauth_bot
from tests.slack_harness import database_url_for, make_fake_slack

# Monday 2026-11-30 09:00 in Berlin: the example digest's scheduled run.
MONDAY_RUN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
A, B = "T0DEMO", "T0BBB"
A_WORDS, B_WORDS = "alpha refund never arrived", "bravo refund went missing"


async def forward(running, *, team: str, user: str, bot_user: str, text: str) -> None:
    await running.slack.send_event(event_callback(
        message_event(channel="C0INTAKE", user=user, text=text, team=team),
        team_id=team, bot_user_id=bot_user))
    await running.settle()


async def command(running, *, team: str, user: str, text: str):
    form = slash_command(text=text, user_id=user, channel_id="C0GENERAL", team_id=team)
    return await running.slack.send_command(form)


def app_home_opened(user: str) -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home",
            "event_ts": "1764201600.000100"}


async def test_two_workspaces_never_see_each_others_items(tmp_path, monkeypatch, capsys):
    clock = FrozenClock(MONDAY_RUN - timedelta(hours=3))
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db", clock=clock) as running:
        slack.add_user("U0BSUP", "bravo-support", team_id=B)
        alpha = await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        tokens = {alpha.bot_token: A, bravo.bot_token: B}

        await forward(running, team=A, user="U0SUPPORT", bot_user="U0BOTA", text=A_WORDS)
        await forward(running, team=B, user="U0BSUP", bot_user="U0BOTB", text=B_WORDS)
        items = {item.workspace: item for item in running.store.list_items()}
        a_item, b_item = items[A], items[B]

        # Every call a workspace's token made shows that workspace's words only.
        for call in slack.calls:
            if call.token in tokens:
                other = B_WORDS if tokens[call.token] == A else A_WORDS
                assert other not in json.dumps(call.args), call

        # From B, an admin (who may acknowledge and resolve anything, and on Grid may be in
        # both workspaces) clicks with A's item id: refused, A's item untouched.
        await running.slack.send_interaction(block_actions(
            user_id="U0LEAD", action_id="fb_ack", value=str(a_item.id), team_id=B,
            channel_id="C0PAYMENTS", message_ts=str(a_item.card_ts)))
        await running.slack.send_interaction(block_actions(
            user_id="U0LEAD", action_id="fb_resolve", value=str(a_item.id), team_id=B,
            channel_id="C0PAYMENTS", message_ts=str(a_item.card_ts)))
        await running.settle()
        after = running.store.get_item(workspace=A, item_id=a_item.id)
        a_events = running.store.events_for(workspace=A, item_id=a_item.id)

        # /feedback stats and App Home, asked in A.
        stats = await command(running, team=A, user="U0LEAD", text="stats")
        await running.slack.send_event(event_callback(
            app_home_opened("U0ALICE"), team_id=A, bot_user_id="U0BOTA"))
        [home] = await slack.wait_for("views.publish")

        # The digests of both workspaces, posted at their time by one scheduler tick.
        clock.advance(MONDAY_RUN - clock())
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        digests = [call for call in slack.calls_to("chat.postMessage")
                   if call.args.get("channel") == "C0MANAGERS"]

        monkeypatch.setenv("DATABASE_URL", database_url_for(tmp_path / "bot.db"))
        capsys.readouterr()
        assert main(["export", "--format", "json", "--workspace", A]) == 0
        exported = json.loads(capsys.readouterr().out)

    assert a_item.text == A_WORDS and b_item.text == B_WORDS
    assert after is not None and after.first_response_at is None
    assert after.status == a_item.status
    assert [event.kind for event in a_events] == ["received", "routed"]

    assert stats.status == 200 and "1 new" in stats.body and B_WORDS not in stats.body
    assert home.token == alpha.bot_token
    assert A_WORDS in str(home.args["view"]) and B_WORDS not in str(home.args["view"])

    assert {tokens[call.token] for call in digests} == {A, B}
    for call in digests:
        other = B_WORDS if tokens[call.token] == A else A_WORDS
        assert other not in json.dumps(call.args)

    assert [row["text"] for row in exported] == [A_WORDS]
    assert {row["workspace"] for row in exported} == {A}


async def test_digest_post_posts_each_installed_workspaces_digest_with_its_token(tmp_path):
    from bot.digest_post import post_digests

    clock = FrozenClock(MONDAY_RUN - timedelta(hours=1))
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db", clock=clock) as running:
        slack.add_user("U0BSUP", "bravo-support", team_id=B)
        alpha = await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        await forward(running, team=A, user="U0SUPPORT", bot_user="U0BOTA", text=A_WORDS)
        await forward(running, team=B, user="U0BSUP", bot_user="U0BOTB", text=B_WORDS)
        clock.advance(timedelta(hours=1))

        code = await post_digests(running.bot.runtime, force=False, wait=10)
        digests = [call for call in slack.calls_to("chat.postMessage")
                   if call.args.get("channel") == "C0MANAGERS"]

    assert code == 0
    assert sorted(call.token for call in digests) == sorted([alpha.bot_token, bravo.bot_token])
