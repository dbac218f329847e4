"""`feedbackbot forget` erases a person's words and names everywhere; figures stay the same.

Data is made through the real flows (signed requests to the bot, the fake Slack), the
command runs as a user runs it, and the whole database is searched afterwards.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from bot.cli import main
from bot.erasure import ERASED, fold
from bot.metrics import compute_figures
from bot.models import utcnow
from bot.store import Store
from handlers.slack.standin.payloads import block_actions, event_callback, message_event
from storage import open_store
from storage.store import SqlStore
from tests.slack_harness import (
    EXAMPLE_CONFIG,
    database_url_for,
    example_config,
    make_fake_slack,
    modal_values,
    past_ts,
    running_bot,
)
from tests.store_backends import table_rows
from tests.test_slack_installs import installation, installs
from tests.test_slack_shortcut import prefill, shortcut, submit

CUSTOMER = "Ærø Shipping"
THEIR_WORDS = "Ærø says the zanzibar invoice total is doubled"
OTHER_WORDS = "Globex search is a quagmire"


def table_names(store: Store) -> list[str]:
    """Every table of the store's database."""
    assert isinstance(store, SqlStore)
    with store.database.read() as tx:
        if store.database.dialect.name == "sqlite":
            rows = tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = tx.all("SELECT tablename AS name FROM pg_tables"
                          " WHERE schemaname = current_schema()")
    return sorted(str(row["name"]) for row in rows)


def dump(db: Path) -> str:
    """Every value of every table, also JSON- and URL-decoded, case-folded: what to grep."""
    store = open_store(database_url_for(db))
    try:
        parts: list[str] = []
        for table in table_names(store):
            for row in table_rows(store, table):
                for value in row.values():
                    text = str(value)
                    parts += [text, unquote_plus(text)]
                    with contextlib.suppress(ValueError):
                        parts.append(json.dumps(json.loads(text), ensure_ascii=False))
        return fold("\n".join(parts))
    finally:
        store.close()


def figures(db: Path, now) -> tuple:
    """The digest figures of the last week and what is waiting, as the core computes them."""
    store = open_store(database_url_for(db))
    try:
        found = compute_figures(items=store.list_items(), config=example_config(),
                                start=now - timedelta(days=7), end=now, now=now)
    finally:
        store.close()
    return (found.teams, found.overall,
            [(waiting.item.id, waiting.age, waiting.overdue) for waiting in found.waiting])


async def _forward_with_customer(running, slack, text: str, customer: str, *,
                                 note: str | None = None) -> None:
    message = slack.add_message("C0ACMESHARED", user="U0CUSTOMER", ts=past_ts(5400),
                                text=text)
    view = await shortcut(running, slack, message, channel="C0ACMESHARED")
    await submit(running, view, modal_values(text=prefill(view), team="payments",
                                             customer=customer, severity="high", note=note))
    await running.settle()


async def _reply(running, item, user: str, text: str) -> None:
    await running.slack.send_event(event_callback(message_event(
        channel=item.card_channel, user=user, thread_ts=item.card_ts, text=text)))
    await running.settle()


async def _seed(slack, db: Path, words: str = THEIR_WORDS) -> None:
    """Two customers' items, each answered in its card thread and followed."""
    async with running_bot(slack, db) as running:
        await _forward_with_customer(running, slack, words, CUSTOMER,
                                     note="Ærø phoned about zanzibar twice")
        await _forward_with_customer(running, slack, OTHER_WORDS, "Globex")
        theirs, other = sorted(running.store.list_items(), key=lambda item: item.id)
        await _reply(running, theirs, "U0ALICE", "Looking at the zanzibar totals for Ærø now")
        await _reply(running, other, "U0BOB", "The quagmire index is rebuilt")
        await running.slack.send_interaction(block_actions(
            user_id="U0SUPPORT2", action_id="fb_follow", value=str(theirs.id),
            channel_id=theirs.card_channel, message_ts=theirs.card_ts))
        await running.settle()


def forget(monkeypatch, db: Path, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", database_url_for(db))
    return main(["--config", str(EXAMPLE_CONFIG), "forget", *args])


async def test_forgetting_a_customer_erases_their_words_everywhere_and_keeps_figures(
        tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        await _seed(slack, db)
        before = dump(db)
        assert "zanzibar" in before and fold(CUSTOMER) in before
        now = utcnow()
        figures_before = figures(db, now)

        assert forget(monkeypatch, db, "--customer", "ærø SHIPPING") == 0

        out = capsys.readouterr().out
        after = dump(db)
        for words in ("zanzibar", "ærø", "doubled"):
            assert words not in after
        # The other customer's item is untouched.
        for words in ("globex", "quagmire"):
            assert words in after
        assert figures(db, now) == figures_before
        store = open_store(database_url_for(db))
        theirs, other = sorted(store.list_items(), key=lambda item: item.id)
        store.close()
        assert (theirs.text, theirs.customer, theirs.note) == (ERASED, ERASED, ERASED)
        assert (theirs.team, theirs.severity, theirs.status) == ("payments", "high", "responded")
        assert theirs.first_response_by == "U0ALICE"  # staff stay for a customer's erasure
        assert other.text == OTHER_WORDS and other.customer == "Globex"
        assert f"items with words erased: T0DEMO/{theirs.id}" in out
        for table in ("items", "events", "outbox", "inbox"):
            assert f"erased in {table}: " in out

        # The running bot redraws the card without the words.
        async with running_bot(slack, db) as running:
            await running.settle()
        redraw = [call for call in slack.calls_to("chat.update")
                  if call.args.get("ts") == theirs.card_ts][-1]
        assert "zanzibar" not in json.dumps(redraw.args) and ERASED in json.dumps(redraw.args)


async def test_forgetting_a_user_erases_their_id_and_replies(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        await _seed(slack, db)
        assert "u0alice" in dump(db)
        now = utcnow()
        figures_before = figures(db, now)

        assert forget(monkeypatch, db, "--user", "U0ALICE") == 0

        after = dump(db)
        assert "u0alice" not in after
        assert "looking at the zanzibar totals" not in after
        # The customer's own words stay: they are not U0ALICE's.
        assert fold(THEIR_WORDS) in after and "quagmire index is rebuilt" in after
        assert figures(db, now) == figures_before
        store = open_store(database_url_for(db))
        theirs, other = sorted(store.list_items(), key=lambda item: item.id)
        store.close()
        assert theirs.first_response_by == ERASED and theirs.first_response_at is not None
        assert other.first_response_by == "U0BOB"
        out = capsys.readouterr().out
        assert "erased in events: " in out
        assert ("items the user's id and words erased from:"
                f" T0DEMO/{theirs.id}, T0DEMO/{other.id}") in out


async def test_forgetting_the_installer_keeps_the_workspaces_bot(tmp_path, monkeypatch,
                                                                  capsys):
    db = tmp_path / "bot.db"
    store = open_store(database_url_for(db))
    saved = installs(store)
    try:
        await saved.async_save(installation(user="U0ALICE", bot_token="xoxb-aaa-secret"))
        await saved.async_save(installation(user="U0BOB", bot_token="xoxb-aaa-secret"))
    finally:
        store.close()
    assert "u0alice" in dump(db)

    assert forget(monkeypatch, db, "--user", "U0ALICE") == 0

    assert "u0alice" not in dump(db)
    assert "erased in slack_installations: 1 row(s)" in capsys.readouterr().out
    store = open_store(database_url_for(db))
    saved = installs(store)
    try:
        # The workspace is still served, by its bot; the other installer keeps theirs.
        bot = await saved.async_find_bot(enterprise_id=None, team_id="T0AAA")
        assert bot is not None and bot.bot_token == "xoxb-aaa-secret"
        assert await saved.async_find_installation(enterprise_id=None, team_id="T0AAA",
                                                   user_id="U0ALICE") is None
        bob = await saved.async_find_installation(enterprise_id=None, team_id="T0AAA",
                                                  user_id="U0BOB")
        assert bob is not None and bob.user_token == "xoxp-user-secret"
    finally:
        store.close()


async def test_a_dry_run_says_what_would_go_and_changes_nothing(tmp_path, monkeypatch,
                                                                capsys):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        await _seed(slack, db)
        before = dump(db)
        assert forget(monkeypatch, db, "--customer", CUSTOMER, "--dry-run") == 0
        out = capsys.readouterr().out
        assert "would erase in items: 1 row(s)" in out and "dry run" in out
        assert dump(db) == before


@pytest.mark.parametrize("store_backend", ["sqlite"], indirect=True)  # reads the file itself
async def test_the_database_file_keeps_no_copy_of_erased_words(tmp_path, monkeypatch):
    db = tmp_path / "bot.db"
    assert database_url_for(db).startswith("sqlite")
    async with make_fake_slack() as slack:
        # Long enough to spill into pages of their own, which an erasure frees.
        await _seed(slack, db, words=THEIR_WORDS + " and zanzibar again" * 140)
    raw = db.read_bytes()
    assert b"zanzibar" in raw
    assert forget(monkeypatch, db, "--customer", CUSTOMER) == 0
    files = [path for path in tmp_path.iterdir() if path.name.startswith("bot.db")]
    raw = b"".join(path.read_bytes() for path in files)
    for form in (b"zanzibar", CUSTOMER.encode(), b"\\u00c6r\\u00f8", b"%C3%86r%C3%B8"):
        assert form not in raw


def test_who_to_forget_must_be_said_once_and_plainly(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    open_store(database_url_for(db)).close()
    with pytest.raises(SystemExit) as neither:
        forget(monkeypatch, db)
    assert neither.value.code == 2
    with pytest.raises(SystemExit) as both:
        forget(monkeypatch, db, "--customer", "Acme", "--user", "U0ALICE")
    assert both.value.code == 2
    capsys.readouterr()
    assert forget(monkeypatch, db, "--customer", " \u200b ") == 2
    assert "the customer's name is empty" in capsys.readouterr().err
    assert forget(monkeypatch, db, "--user", "U0 ALICE") == 2
    assert "is not a chat user id" in capsys.readouterr().err


async def test_an_unknown_person_has_nothing_to_forget(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    async with make_fake_slack() as slack:
        await _seed(slack, db)
        before = dump(db)
        for who in (["--customer", "Ærø"], ["--customer", "Ｇlobex Inc"],
                    ["--user", "U0NOBODY"]):
            assert forget(monkeypatch, db, *who) == 0
            assert "nothing to forget" in capsys.readouterr().out
        assert dump(db) == before
