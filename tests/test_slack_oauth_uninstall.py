"""OAuth mode: app_uninstalled and tokens_revoked delete that workspace's installation only;
its items stay, and what was queued for it waits for a reinstall."""

from __future__ import annotations

from handlers.slack.standin.payloads import (
    app_uninstalled_event,
    event_callback,
    slash_command,
    tokens_revoked_event,
)
from tests.oauth_harness import install, running_oauth_bot
from tests.slack_harness import make_fake_slack, posts, wait_for_post
from tests.store_backends import table_rows


def teams_installed(running) -> set[tuple[str, str]]:
    return {(row["kind"], row["team_id"])
            for row in table_rows(running.store, "slack_installations")}


async def forward(running, team: str, text: str = "the app crashes on login"):
    form = slash_command(text=text, user_id="U0SUPPORT", channel_id="C0GENERAL",
                         team_id=team)
    return await running.slack.send_command(form)


async def test_app_uninstalled_deletes_only_that_workspace(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        alpha = await install(slack, running.url, team_id="T0DEMO", bot_user_id="U0BOTA")
        await install(slack, running.url, team_id="T0BBB", bot_user_id="U0BOTB")
        alpha.revoked = True  # Slack revokes the tokens as it uninstalls
        response = await running.slack.send_event(
            event_callback(app_uninstalled_event(), team_id="T0DEMO", bot_user_id="U0BOTA"))
        await running.settle()
        left = teams_installed(running)
        answer = await forward(running, "T0DEMO")

    assert response.status == 200
    assert left == {("installation", "T0BBB"), ("bot", "T0BBB")}
    assert "not installed in this workspace" in answer.body


async def test_tokens_revoked_for_the_bot_deletes_the_bot_and_keeps_other_users(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        await install(slack, running.url, team_id="T0DEMO", bot_user_id="U0BOTA",
                      installer="U0ADMIN")
        await running.slack.send_event(event_callback(
            tokens_revoked_event([], oauth_ids=["U0ADMIN"]), team_id="T0DEMO",
            bot_user_id="U0BOTA"))
        await running.settle()
        after_user = teams_installed(running)
        await running.slack.send_event(event_callback(
            tokens_revoked_event(["U0BOTA"]), team_id="T0DEMO", bot_user_id="U0BOTA"))
        await running.settle()
        after_bot = teams_installed(running)

    assert after_user == {("bot", "T0DEMO")}
    assert after_bot == set()


async def test_posts_queued_for_an_uninstalled_workspace_wait_for_its_reinstall(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        first = await install(slack, running.url, team_id="T0DEMO", bot_user_id="U0BOTA")
        slack.fail_next("chat.postMessage", count=1000)
        await forward(running, "T0DEMO")
        await running.settle(due_only=True, timeout=10)
        first.revoked = True
        slack.clear_faults()
        await running.slack.send_event(
            event_callback(app_uninstalled_event(), team_id="T0DEMO", bot_user_id="U0BOTA"))
        await running.settle(due_only=True, timeout=10)
        cards_while_gone = posts(slack, "C0MOBILE")
        [item] = running.store.list_items()

        second = await install(slack, running.url, team_id="T0DEMO", bot_user_id="U0BOTA")
        [card] = await wait_for_post(slack, "C0MOBILE", timeout=10)

    assert cards_while_gone == []
    assert item.team == "mobile"
    assert card.token == second.bot_token


async def test_uninstalling_an_org_wide_install_deletes_it_for_the_whole_org(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        await install(slack, running.url, team_id=None, enterprise_id="E0ORG", org_wide=True,
                      bot_user_id="U0BOTORG")
        await install(slack, running.url, team_id="T0BBB", bot_user_id="U0BOTB")
        envelope = event_callback(app_uninstalled_event(), team_id="T0DEMO",
                                  enterprise_id="E0ORG", bot_user_id="U0BOTORG")
        envelope["is_enterprise_install"] = True
        envelope["authorizations"][0]["is_enterprise_install"] = True
        response = await running.slack.send_event(envelope)
        await running.settle()
        left = teams_installed(running)

    assert response.status == 200
    assert left == {("installation", "T0BBB"), ("bot", "T0BBB")}
