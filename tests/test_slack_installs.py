"""Installations and OAuth state in our store (both backends), tokens encrypted at rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from slack_sdk.oauth.installation_store import Installation

from bot.store import Store
from handlers.slack.installs import (
    StoreInstallationStore,
    StoreOAuthStateStore,
    rotate_secret_key,
)
from handlers.slack.token_cipher import SecretKeyProblem, TokenCipher, new_key
from tests.fakes import FrozenClock
from tests.store_backends import table_rows

KEY = new_key()


def installation(team: str | None = "T0AAA", *, enterprise: str | None = None,
                 user: str = "U0INSTALLER", bot_token: str | None = "xoxb-aaa-secret",
                 org_wide: bool = False) -> Installation:
    return Installation(
        app_id="A0APP", enterprise_id=enterprise, team_id=team, team_name="Team",
        bot_token=bot_token, bot_id="B0BOT" if bot_token else None,
        bot_user_id="U0BOT" if bot_token else None, bot_scopes=["chat:write"],
        bot_refresh_token="xoxe-1-refresh-secret" if bot_token else None,
        user_id=user, user_token="xoxp-user-secret", user_scopes=["search:read"],
        is_enterprise_install=org_wide)


def installs(store: Store, clock: FrozenClock | None = None) -> StoreInstallationStore:
    return StoreInstallationStore(store=store, cipher=TokenCipher(KEY),
                                  clock=clock or FrozenClock())


async def test_the_newest_installation_of_a_workspace_is_found(fresh_store: Store) -> None:
    clock = FrozenClock()
    store = installs(fresh_store, clock)
    await store.async_save(installation(bot_token="xoxb-old"))
    clock.advance(timedelta(minutes=1))
    await store.async_save(installation(bot_token="xoxb-new"))
    await store.async_save(installation("T0OTHER", bot_token="xoxb-other"))

    found = await store.async_find_installation(enterprise_id=None, team_id="T0AAA")
    bot = await store.async_find_bot(enterprise_id=None, team_id="T0AAA")

    assert found is not None and found.bot_token == "xoxb-new"
    assert found.user_token == "xoxp-user-secret" and found.user_id == "U0INSTALLER"
    assert bot is not None and (bot.bot_token, bot.bot_user_id) == ("xoxb-new", "U0BOT")
    assert bot.bot_refresh_token == "xoxe-1-refresh-secret"
    assert await store.async_find_bot(enterprise_id=None, team_id="T0NONE") is None


async def test_a_users_installation_gets_the_newest_bot_token(fresh_store: Store) -> None:
    clock = FrozenClock()
    store = installs(fresh_store, clock)
    await store.async_save(installation(user="U0FIRST", bot_token="xoxb-first"))
    clock.advance(timedelta(minutes=1))
    await store.async_save(installation(user="U0SECOND", bot_token="xoxb-second"))

    first = await store.async_find_installation(enterprise_id=None, team_id="T0AAA",
                                                user_id="U0FIRST")

    assert first is not None and first.user_id == "U0FIRST"
    assert first.bot_token == "xoxb-second"


async def test_an_org_wide_install_is_found_for_its_enterprise(fresh_store: Store) -> None:
    store = installs(fresh_store)
    await store.async_save(installation(None, enterprise="E0ORG", org_wide=True,
                                        bot_token="xoxb-org"))

    by_org = await store.async_find_bot(enterprise_id="E0ORG", team_id="T0ANY",
                                        is_enterprise_install=True)
    by_enterprise_alone = await store.async_find_bot(enterprise_id="E0ORG", team_id=None)
    as_a_workspace = await store.async_find_bot(enterprise_id="E0ORG", team_id="T0ANY")

    assert by_org is not None and by_org.bot_token == "xoxb-org"
    assert by_org.is_enterprise_install
    assert by_enterprise_alone is not None
    assert as_a_workspace is None


async def test_deleting_removes_only_that_workspace(fresh_store: Store) -> None:
    store = installs(fresh_store)
    await store.async_save(installation("T0AAA"))
    await store.async_save(installation("T0BBB"))

    await store.async_delete_bot(enterprise_id=None, team_id="T0AAA")
    assert await store.async_find_bot(enterprise_id=None, team_id="T0AAA") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T0AAA")

    await store.async_delete_installation(enterprise_id=None, team_id="T0AAA")
    assert await store.async_find_installation(enterprise_id=None, team_id="T0AAA") is None

    await store.async_save(installation("T0AAA"))
    await store.async_delete_all(enterprise_id=None, team_id="T0AAA")
    assert await store.async_find_installation(enterprise_id=None, team_id="T0AAA") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T0BBB") is not None


async def test_the_database_holds_no_token(fresh_store: Store) -> None:
    await installs(fresh_store).async_save(installation())

    raw = repr(table_rows(fresh_store, "slack_installations"))

    assert "U0BOT" in raw  # the rows are there, readable apart from the secrets
    for secret in ("xoxb-aaa-secret", "xoxp-user-secret", "xoxe-1-refresh-secret"):
        assert secret not in raw


async def test_rotating_the_key_re_encrypts_every_row(fresh_store: Store) -> None:
    await installs(fresh_store).async_save(installation())
    before = table_rows(fresh_store, "slack_installations")
    newer = new_key()

    rotated = rotate_secret_key(fresh_store, TokenCipher(f"{newer},{KEY}"))
    after_store = StoreInstallationStore(store=fresh_store, cipher=TokenCipher(newer))
    bot = await after_store.async_find_bot(enterprise_id=None, team_id="T0AAA")

    assert rotated == len(before) == 2
    assert bot is not None and bot.bot_token == "xoxb-aaa-secret"
    with pytest.raises(SecretKeyProblem):
        await installs(fresh_store).async_find_bot(enterprise_id=None, team_id="T0AAA")


def test_the_key_must_be_set_and_well_formed() -> None:
    with pytest.raises(SecretKeyProblem, match="FEEDBACKBOT_SECRET_KEY is not set"):
        TokenCipher("")
    with pytest.raises(SecretKeyProblem, match="key 2 of 2 is not a Fernet key"):
        TokenCipher(f"{KEY},not-a-key")


async def test_a_state_is_consumed_once_and_expires(fresh_store: Store) -> None:
    clock = FrozenClock()
    states = StoreOAuthStateStore(store=fresh_store, clock=clock)
    used = await states.async_issue()
    late = await states.async_issue()

    assert await states.async_consume(used)
    assert not await states.async_consume(used)
    assert not await states.async_consume("never-issued")
    clock.advance(timedelta(minutes=10))
    assert not await states.async_consume(late)


def test_rotate_key_command_re_encrypts_and_keeps_tokens_readable(tmp_path, monkeypatch,
                                                                   capsys):
    from bot.cli import main
    from storage import open_store

    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = open_store(url)
    import asyncio

    asyncio.run(installs(store).async_save(installation()))
    newer = new_key()
    monkeypatch.setenv("DATABASE_URL", url)

    monkeypatch.setenv("FEEDBACKBOT_SECRET_KEY", newer)
    refused = main(["rotate-key"])  # the old key is missing: nothing may change
    monkeypatch.setenv("FEEDBACKBOT_SECRET_KEY", f"{newer},{KEY}")
    rotated = main(["rotate-key"])

    bot = asyncio.run(StoreInstallationStore(store=store, cipher=TokenCipher(newer))
                      .async_find_bot(enterprise_id=None, team_id="T0AAA"))
    store.close()
    output = capsys.readouterr()
    assert refused == 1 and "nothing was changed" in output.err
    assert rotated == 0 and "re-encrypted 2 stored installation(s)" in output.out
    assert bot is not None and bot.bot_token == "xoxb-aaa-secret"


def test_new_secret_key_prints_a_usable_key(capsys):
    from bot.cli import main

    assert main(["new-secret-key"]) == 0
    TokenCipher(capsys.readouterr().out.strip())
