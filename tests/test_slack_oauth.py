"""OAuth mode: workspaces install the app through /slack/install and /slack/oauth_redirect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.cli import platforms_to_run
from bot.platforms import load_platforms
from bot.settings import Settings
from handlers.slack.app import create_app
from handlers.slack.manifest import BOT_SCOPES
from handlers.slack.standin.payloads import slash_command
from handlers.slack.token_cipher import SecretKeyProblem
from tests.oauth_harness import (
    SECRET_KEY,
    finish_install,
    install,
    running_oauth_bot,
    running_oauth_worker,
    start_install,
)
from tests.slack_harness import example_config, make_fake_slack, wait_for_post
from tests.store_backends import table_rows


async def test_install_redirects_to_slack_with_a_state_cookie(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        started = await start_install(running.url)

    assert started.status == 302
    where = urlsplit(started.location)
    query = parse_qs(where.query)
    assert f"{where.netloc}{where.path}" == "slack.com/oauth/v2/authorize"
    assert query["client_id"] == [slack.oauth.client_id]
    assert set(query["scope"][0].split(",")) == set(BOT_SCOPES)
    assert started.state and started.cookie == started.state


@pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)
async def test_a_finished_install_stores_the_workspace_encrypted(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        code, grant = slack.oauth.grant(team_id="T0AAA", team_name="Alpha")
        started = await start_install(running.url)
        finished = await finish_install(running.url, code=code, state=started.state,
                                        cookie=started.cookie)
        installs = running.bot.installs
        assert installs is not None
        bot = installs.bot_for(enterprise_id=None, team_id="T0AAA")
        raw = repr(table_rows(running.store, "slack_installations"))

    assert finished.status == 200 and "installed in Alpha" in finished.page
    [exchange] = slack.calls_to("oauth.v2.access")
    assert exchange.args["code"] == code
    assert bot is not None and bot.bot_token == grant.bot_token
    assert bot.bot_user_id == grant.bot_user_id and bot.bot_id == grant.bot_id
    assert "T0AAA" in raw
    assert grant.bot_token not in raw and grant.user_token not in raw


async def test_an_org_wide_grid_install_serves_every_workspace_of_the_org(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        grant = await install(slack, running.url, team_id=None, enterprise_id="E0ORG",
                              enterprise_name="Org", org_wide=True)
        form = slash_command(text="the app crashes on login", user_id="U0SUPPORT",
                             channel_id="C0GENERAL", team_id="T0DEMO", enterprise_id="E0ORG")
        form["is_enterprise_install"] = "true"
        response = await running.slack.send_command(form)
        await running.settle()
        [card] = await wait_for_post(slack, "C0MOBILE")
        [item] = running.store.list_items()

    assert response.status == 200
    assert card.token == grant.bot_token
    assert item.workspace == "E0ORG:T0DEMO"


@pytest.mark.parametrize("problem", ["unknown", "reused", "expired", "no cookie"])
async def test_a_bad_state_gets_a_clear_page_and_stores_nothing(tmp_path, problem):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        if problem == "reused":
            await install(slack, running.url, team_id="T0OLD")
        code, _ = slack.oauth.grant(team_id="T0AAA")
        started = await start_install(running.url)
        state, cookie = started.state, started.cookie
        if problem == "unknown":
            state = cookie = "never-issued"
        elif problem == "reused":
            first, _ = slack.oauth.grant(team_id="T0OLD")
            await finish_install(running.url, code=first, state=state, cookie=cookie)
        elif problem == "expired":
            installs = running.bot.installs
            assert installs is not None
            installs.states.clock = lambda: datetime.now(UTC) + timedelta(minutes=11)
        elif problem == "no cookie":
            cookie = ""
        finished = await finish_install(running.url, code=code, state=state, cookie=cookie)
        teams = {row["team_id"] for row in table_rows(running.store, "slack_installations")}

    assert finished.status in (400, 401)
    expected = ("another browser" if problem == "no cookie"
                else "expired or was already used")
    assert expected in finished.page and "Start again at /slack/install" in finished.page
    assert "T0AAA" not in teams
    assert not [call for call in slack.calls_to("oauth.v2.access")
                if call.args.get("code") == code]


async def test_a_code_slack_refuses_stores_nothing(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        started = await start_install(running.url)
        finished = await finish_install(running.url, code="made-up", state=started.state,
                                        cookie=started.cookie)
        rows = table_rows(running.store, "slack_installations")

    assert finished.status == 401 and "refused the authorization code" in finished.page
    assert rows == []


def test_oauth_mode_refuses_to_start_without_the_secret_key(tmp_path):
    settings = Settings(signing_secret="s", slack_client_id="1.2", slack_client_secret="x")
    slack_only = [p for p in load_platforms().wanted(settings) if p.name == "slack"]

    found = platforms_to_run(settings, load_platforms())
    malformed = slack_only[0].missing(settings.with_changes(secret_key="not-a-key"))
    fine = slack_only[0].missing(settings.with_changes(secret_key=SECRET_KEY))

    assert isinstance(found, str) and "FEEDBACKBOT_SECRET_KEY" in found
    assert "new-secret-key" in found
    assert malformed and "is not a Fernet key" in malformed[0]
    assert fine == []
    with pytest.raises(SecretKeyProblem):
        create_app(settings.with_changes(database_url=f"sqlite:///{tmp_path / 'b.db'}"),
                   config=example_config())


async def test_a_workspace_that_never_installed_is_not_served(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        form = slash_command(text="the app crashes on login", user_id="U0SUPPORT",
                             channel_id="C0GENERAL", team_id="T0STRANGER",
                             response_url=slack.response_url("stranger"))
        response = await running.slack.send_command(form)
        await running.settle()
        items = running.store.list_items()

    assert response.status == 200
    assert "not installed in this workspace" in response.body
    assert not slack.calls_to("response_url")
    assert items == []
    assert not slack.calls_to("chat.postMessage")


async def test_each_workspace_posts_with_its_own_token(tmp_path):
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, tmp_path / "bot.db") as running:
        grant = await install(slack, running.url, team_id="T0DEMO", team_name="Demo")
        form = slash_command(text="the app crashes on login", user_id="U0SUPPORT",
                             channel_id="C0GENERAL", team_id="T0DEMO")
        await running.slack.send_command(form)
        await running.settle()
        [card] = await wait_for_post(slack, "C0MOBILE")

    assert card.token == grant.bot_token


async def test_a_worker_finishes_what_serve_answered_with_the_workspaces_token(tmp_path):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack, \
            running_oauth_bot(slack, db, worker_elsewhere=True) as serve:
        grant = await install(slack, serve.url, team_id="T0DEMO")
        answer = await serve.slack.send_command(slash_command(
            text="refund not received for order 12", user_id="U0SUPPORT",
            channel_id="C0GENERAL", team_id="T0DEMO"))
        stored_before_worker = len(serve.store.inbox_pending())
        async with running_oauth_worker(slack, db):
            [card] = await wait_for_post(slack, "C0PAYMENTS", timeout=10)

    assert answer.status == 200 and "Forwarding to *payments*" in answer.body
    assert stored_before_worker == 1
    assert card.token == grant.bot_token


def test_serve_in_oauth_mode_without_the_key_exits_with_a_clear_error(monkeypatch, capsys,
                                                                     tmp_path):
    from bot.cli import main
    from tests.slack_harness import EXAMPLE_CONFIG

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")

    for name, value in {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x",
                        "SLACK_SIGNING_SECRET": "s"}.items():
        monkeypatch.setenv(name, value)
    for name in ("FEEDBACKBOT_SECRET_KEY", "SLACK_BOT_TOKEN", "MICROSOFT_APP_ID"):
        monkeypatch.delenv(name, raising=False)

    code = main(["--config", str(EXAMPLE_CONFIG), "serve", "--port", "0"])

    assert code == 2
    assert "FEEDBACKBOT_SECRET_KEY" in capsys.readouterr().err


def test_bolt_knows_the_bots_own_installation_store_not_a_file_of_its_own(tmp_path, monkeypatch):
    # `serve` runs with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET in its environment; given
    # nothing else, Bolt would make a file-based installation store in the home directory.
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = Settings(signing_secret="signing", database_url=f"sqlite:///{tmp_path}/bot.db",
                        slack_client_id="111.222", slack_client_secret="client-secret",
                        secret_key=SECRET_KEY)
    bot = create_app(settings, config=example_config())
    try:
        assert bot.installs is not None
        for bolt in (bot.bolt, bot.quick_bolt):
            assert bolt.installation_store is bot.installs.installations
    finally:
        bot.store.close()
    assert not list(tmp_path.glob(".bolt-app-*"))
