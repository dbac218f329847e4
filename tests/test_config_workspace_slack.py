"""Config sections per workspace, over the real protocol: two OAuth-installed workspaces.

Workspace A (T0DEMO) uses the top-level config of examples/feedbackbot.yml; workspace B
(T0BBB) has a section of its own. The same words go to different teams and channels,
each workspace's digest goes to its own channel with its own teams, and an admin of
one is not an admin of the other.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.cli import main
from bot.config import Config, parse_config_text
from handlers.slack.standin.payloads import (
    block_actions,
    event_callback,
    message_event,
    message_shortcut,
    reaction_added_event,
    slash_command,
    view_submission,
)
from tests.fakes import FrozenClock
from tests.oauth_harness import install, running_oauth_bot
from tests.slack_harness import EXAMPLE_CONFIG, database_url_for, make_fake_slack

# Monday 2026-11-30 09:00 in Berlin: A's digest (the top level's) runs then, B's at 10:00.
MONDAY_RUN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
A, B = "T0DEMO", "T0BBB"
WORDS = "the refund for invoice 12 never arrived"

B_SECTION = """
workspaces:
  T0BBB:
    admins: [U0BLEAD]
    teams:
      billing:
        channel: C0BBILLING
        owners: [U0BCAROL]
        keywords: [refund]
      helpdesk:
        channel: C0BHELP
        owners: [U0BDAVE]
    fallback: helpdesk
    intake:
      channels: [C0BINTAKE]
    acknowledge:
      reactions: [ok_hand]
    digests:
      - channel: C0BMANAGERS
        timezone: Europe/Berlin
        days: [mon, tue, wed, thu, fri, sat, sun]
        at: "10:00"
"""


def two_workspace_config() -> Config:
    loaded = parse_config_text(EXAMPLE_CONFIG.read_text() + B_SECTION)
    assert loaded.config is not None, loaded.problems
    return loaded.config


def add_workspace_b(slack) -> None:
    for user, name in (("U0BSUP", "bravo-support"), ("U0BLEAD", "bravo-lead"),
                       ("U0BCAROL", "carol"), ("U0BDAVE", "dave")):
        slack.add_user(user, name, team_id=B)
    for channel, name in (("C0BINTAKE", "b-feedback"), ("C0BBILLING", "b-billing"),
                          ("C0BHELP", "b-help"), ("C0BMANAGERS", "b-managers")):
        slack.add_channel(channel, name)


async def forward(running, *, team: str, channel: str, user: str, bot_user: str,
                  text: str = WORDS) -> None:
    await running.slack.send_event(event_callback(
        message_event(channel=channel, user=user, text=text, team=team),
        team_id=team, bot_user_id=bot_user))
    await running.settle()


async def test_each_workspace_routes_by_its_own_section(tmp_path):
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db",
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        alpha = await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")

        await forward(running, team=A, channel="C0INTAKE", user="U0SUPPORT",
                      bot_user="U0BOTA")
        await forward(running, team=B, channel="C0BINTAKE", user="U0BSUP",
                      bot_user="U0BOTB")
        # A's intake channel is not one of B's: a B message there forwards nothing.
        await forward(running, team=B, channel="C0INTAKE", user="U0BSUP",
                      bot_user="U0BOTB")
        items = running.store.list_items()
        cards = {call.args["channel"]: (call.token, json.dumps(call.args))
                 for call in slack.calls_to("chat.postMessage")
                 if call.args.get("channel") in ("C0PAYMENTS", "C0BBILLING")}

    assert sorted((item.workspace, item.team, item.source_channel) for item in items) == sorted([
        (A, "payments", "C0INTAKE"), (B, "billing", "C0BINTAKE")])
    assert {channel: token for channel, (token, _) in cards.items()} == {
        "C0PAYMENTS": alpha.bot_token, "C0BBILLING": bravo.bot_token}
    # B's card mentions B's owner.
    assert "<@U0BCAROL>" in cards["C0BBILLING"][1]


async def test_the_forward_form_offers_the_workspaces_own_teams(tmp_path):
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db",
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        message = slack.add_message("C0BHELP", user="U0BDAVE", text=WORDS)
        await running.slack.send_interaction(message_shortcut(
            callback_id="forward_feedback", user_id="U0BSUP", channel_id="C0BHELP",
            message=message, team_id=B))
        [opened] = await slack.wait_for("views.open")

    [team] = [block for block in opened.args["view"]["blocks"]
              if block.get("block_id") == "team"]
    assert opened.token == bravo.bot_token
    assert [option["value"] for option in team["element"]["options"]] == [
        "billing", "helpdesk"]
    assert team["element"]["initial_option"]["value"] == "billing"


async def test_card_reactions_and_thread_replies_follow_the_workspaces_section(tmp_path):
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db",
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        # Two different problems: the second is not offered as a +1 of the first.
        for text in (WORDS, "a refund shows twice on the customer's statement"):
            await forward(running, team=B, channel="C0BINTAKE", user="U0BSUP",
                          bot_user="U0BOTB", text=text)
        first, second = sorted(running.store.list_items(), key=lambda item: item.id)

        async def send(event: dict) -> None:
            await running.slack.send_event(event_callback(event, team_id=B,
                                                          bot_user_id="U0BOTB"))
            await running.settle()

        # :eyes: acknowledges at the top level, not in B (whose section says :ok_hand:).
        for reaction in ("eyes", "ok_hand"):
            await send(reaction_added_event(user="U0BCAROL", reaction=reaction,
                                            channel="C0BBILLING", ts=str(first.card_ts)))
            if reaction == "eyes":
                after_eyes = running.store.get_item(workspace=B, item_id=first.id)
        # A reply in the thread of a card in B's own team channel is a response.
        await send(message_event(channel="C0BBILLING", user="U0BCAROL", team=B,
                                 text="Looking at it", thread_ts=str(second.card_ts)))
        acked = running.store.get_item(workspace=B, item_id=first.id)
        replied = running.store.get_item(workspace=B, item_id=second.id)

    assert after_eyes is not None and after_eyes.first_response_at is None
    assert acked is not None and acked.first_response_by == "U0BCAROL"
    assert replied is not None and replied.first_response_by == "U0BCAROL"


async def test_an_admin_of_one_workspace_is_not_an_admin_of_the_other(tmp_path):
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db",
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        await forward(running, team=A, channel="C0INTAKE", user="U0SUPPORT",
                      bot_user="U0BOTA")
        await forward(running, team=B, channel="C0BINTAKE", user="U0BSUP",
                      bot_user="U0BOTB")
        items = {item.workspace: item for item in running.store.list_items()}

        async def ack(user: str, team: str) -> None:
            item = items[team]
            await running.slack.send_interaction(block_actions(
                user_id=user, action_id="fb_ack", value=str(item.id), team_id=team,
                channel_id=str(item.card_channel), message_ts=str(item.card_ts)))
            await running.settle()

        # U0LEAD is A's admin (top level) and U0BLEAD is B's (its section): each clicks
        # Acknowledge on the other workspace's item first, then on their own.
        await ack("U0LEAD", B)
        await ack("U0BLEAD", A)
        refused = {key: running.store.get_item(workspace=key, item_id=items[key].id)
                   for key in (A, B)}
        await ack("U0LEAD", A)
        await ack("U0BLEAD", B)
        taken = {key: running.store.get_item(workspace=key, item_id=items[key].id)
                 for key in (A, B)}

    assert all(item is not None and item.first_response_at is None
               for item in refused.values())
    assert taken[A] is not None and taken[A].first_response_by == "U0LEAD"
    assert taken[B] is not None and taken[B].first_response_by == "U0BLEAD"


async def test_each_workspace_gets_its_own_digest_in_its_own_channel(tmp_path):
    clock = FrozenClock(MONDAY_RUN - timedelta(hours=3))
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db", clock=clock,
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        alpha = await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        await forward(running, team=A, channel="C0INTAKE", user="U0SUPPORT",
                      bot_user="U0BOTA")
        await forward(running, team=B, channel="C0BINTAKE", user="U0BSUP",
                      bot_user="U0BOTB")

        def digests() -> list:
            return [call for call in slack.calls_to("chat.postMessage")
                    if call.args.get("channel") in ("C0MANAGERS", "C0BMANAGERS")]

        clock.advance(MONDAY_RUN - clock())
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        at_nine = [call.args["channel"] for call in digests()]
        clock.advance(timedelta(hours=1))
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        posted = digests()

    assert at_nine == ["C0MANAGERS"]
    assert sorted((call.args["channel"], call.token) for call in posted) == sorted([
        ("C0MANAGERS", alpha.bot_token), ("C0BMANAGERS", bravo.bot_token)])
    by_channel = {call.args["channel"]: json.dumps(call.args) for call in posted}
    assert "billing" in by_channel["C0BMANAGERS"]
    assert "payments" not in by_channel["C0BMANAGERS"]
    assert "payments" in by_channel["C0MANAGERS"]
    assert "billing" not in by_channel["C0MANAGERS"]


async def test_stats_app_home_and_reassigning_use_the_workspaces_own_teams(tmp_path):
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db",
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        await forward(running, team=B, channel="C0BINTAKE", user="U0BSUP",
                      bot_user="U0BOTB")
        [item] = running.store.list_items()
        # App Home of B's billing owner: their item waits, and their team's figures.
        await running.slack.send_event(event_callback(
            {"type": "app_home_opened", "user": "U0BCAROL", "channel": "D0HOME",
             "tab": "home", "event_ts": "1764201600.000100"},
            team_id=B, bot_user_id="U0BOTB"))
        [home] = await slack.wait_for("views.publish")
        stats = await running.slack.send_command(slash_command(
            text="stats", user_id="U0BCAROL", channel_id="C0BHELP", team_id=B))
        # "stats TEAM" names a team of B's own: figures, not feedback to forward.
        one_team = await running.slack.send_command(slash_command(
            text="stats billing", user_id="U0BCAROL", channel_id="C0BHELP", team_id=B))

        # B's owner moves B's item: the modal offers B's other team, the move is made.
        await running.slack.send_interaction(block_actions(
            user_id="U0BCAROL", action_id="fb_reassign", value=str(item.id), team_id=B,
            channel_id=str(item.card_channel), message_ts=str(item.card_ts)))
        [opened] = await slack.wait_for("views.open")
        view = opened.args["view"]
        await running.slack.send_interaction(view_submission(
            user_id="U0BCAROL", callback_id=view["callback_id"], team_id=B,
            private_metadata=view["private_metadata"],
            values={"team": {"value": {"type": "static_select",
                                       "selected_option": {"value": "helpdesk"}}}}))
        await running.settle()
        moved = running.store.get_item(workspace=B, item_id=item.id)

    home_text = json.dumps(home.args["view"])
    assert home.token == bravo.bot_token
    assert "Waiting for your response* (1)" in home_text
    assert "*billing*, last 7 days: 1 new" in home_text
    assert stats.status == 200
    assert "billing" in stats.body and "helpdesk" in stats.body
    assert "payments" not in stats.body
    assert "billing" in one_team.body and "Forwarding" not in one_team.body
    options = [option["value"] for option in view["blocks"][0]["element"]["options"]]
    assert opened.token == bravo.bot_token and options == ["helpdesk"]
    assert moved is not None and moved.team == "helpdesk" and moved.card_channel == "C0BHELP"


async def test_digest_print_shows_each_workspace_its_own_teams(tmp_path, monkeypatch, capsys):
    config_path = tmp_path / "feedbackbot.yml"
    config_path.write_text(EXAMPLE_CONFIG.read_text() + B_SECTION)
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db",
                              config=two_workspace_config()) as running:
        add_workspace_b(slack)
        await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")
        await forward(running, team=B, channel="C0BINTAKE", user="U0BSUP",
                      bot_user="U0BOTB")
    monkeypatch.setenv("DATABASE_URL", database_url_for(tmp_path / "bot.db"))
    monkeypatch.setenv("FEEDBACKBOT_CONFIG", str(config_path))
    capsys.readouterr()

    assert main(["digest", "--print"]) == 0
    printed = capsys.readouterr().out

    # Only B has items: its digest, with its section's teams and not the top level's.
    assert "billing" in printed and "helpdesk" in printed
    assert "payments" not in printed


make_slack = make_fake_slack


GRID_SECTIONS = """
workspaces:
  E0ORG:
    teams:
      org-apps: {channel: C0ORGAPPS, owners: [U0ALICE], keywords: [crash]}
    fallback: org-apps
    customer_channels: {}
  "E0ORG:T0SECOND":
    teams:
      second-apps: {channel: C0SECONDAPPS, owners: [U0BOB], keywords: [crash]}
    fallback: second-apps
    customer_channels: {}
"""


async def test_an_enterprise_section_covers_its_workspaces_without_their_own(tmp_path):
    loaded = parse_config_text(EXAMPLE_CONFIG.read_text() + GRID_SECTIONS)
    assert loaded.config is not None, loaded.problems
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db", config=loaded.config) as running:
        for channel in ("C0ORGAPPS", "C0SECONDAPPS"):
            slack.add_channel(channel, channel.lower())
        grant = await install(slack, running.url, team_id=None, enterprise_id="E0ORG",
                              enterprise_name="Org", org_wide=True)
        slack.add_user("U0SECOND", "second-support", team_id="T0SECOND")
        answers = []
        for team, user in (("T0DEMO", "U0SUPPORT"), ("T0SECOND", "U0SECOND")):
            form = slash_command(text="the app crashes on login", user_id=user,
                                 channel_id="C0GENERAL", team_id=team, enterprise_id="E0ORG")
            form["is_enterprise_install"] = "true"
            answers.append((await running.slack.send_command(form)).body)
            await running.settle()
        items = running.store.list_items()
        cards = [(call.args["channel"], call.token) for call in slack.calls_to("chat.postMessage")
                 if call.args.get("channel") in ("C0ORGAPPS", "C0SECONDAPPS", "C0MOBILE")]

    assert sorted((item.workspace, item.team) for item in items) == [
        ("E0ORG:T0DEMO", "org-apps"), ("E0ORG:T0SECOND", "second-apps")], answers
    assert sorted(cards) == [("C0ORGAPPS", grant.bot_token), ("C0SECONDAPPS", grant.bot_token)]


async def test_digest_post_posts_each_workspaces_own_subscriptions(tmp_path):
    from bot.digest_post import post_digests

    text = EXAMPLE_CONFIG.read_text() + B_SECTION + (
        "      - channel: C0BLEADS\n        at: \"17:00\"\n        timezone: Europe/Berlin\n"
        "        days: [mon, tue, wed, thu, fri, sat, sun]\n")
    loaded = parse_config_text(text)
    assert loaded.config is not None, loaded.problems
    clock = FrozenClock(MONDAY_RUN + timedelta(hours=3))
    async with make_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db", clock=clock,
                              config=loaded.config) as running:
        add_workspace_b(slack)
        slack.add_channel("C0BLEADS", "b-leads")
        alpha = await install(slack, running.url, team_id=A, bot_user_id="U0BOTA")
        bravo = await install(slack, running.url, team_id=B, bot_user_id="U0BOTB")

        code = await post_digests(running.bot.runtime, force=False, wait=10)
        posted = sorted((call.args["channel"], call.token)
                        for call in slack.calls_to("chat.postMessage")
                        if call.args.get("channel") in ("C0MANAGERS", "C0BMANAGERS",
                                                         "C0BLEADS"))

    assert code == 0
    assert posted == sorted([("C0MANAGERS", alpha.bot_token), ("C0BMANAGERS", bravo.bot_token),
                             ("C0BLEADS", bravo.bot_token)])
