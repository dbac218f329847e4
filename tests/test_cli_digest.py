"""The scheduled-work commands as a user runs them: digest --print, clock, suggest-rules."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from bot.cli import main
from bot.models import Event, utcnow
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from storage import open_store
from tests.fakes import make_item

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "feedbackbot.yml"


def _every_day_config(tmp_path: Path) -> Path:
    config = tmp_path / "feedbackbot.yml"
    config.write_text(EXAMPLE.read_text().replace(
        "days: [mon, tue, wed, thu, fri]\n    # teams",
        "days: [mon, tue, wed, thu, fri, sat, sun]\n    # teams"))
    return config


def test_digest_print_renders_without_touching_anything(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    store = open_store(f"sqlite:///{db}")
    now = utcnow()
    item = make_item(workspace="T0DEMO", team="payments", text="refund stuck for weeks",
                     received_at=now - timedelta(hours=3), forwarded_at=now - timedelta(hours=2))
    store.create_item(item=item, event=Event(0, "received", "U0SUPPORT", item.forwarded_at),
                      outbox=[])
    store.close()
    before = db.stat().st_mtime_ns
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["--config", str(_every_day_config(tmp_path)), "digest", "--print"]) == 0
    out = capsys.readouterr().out
    assert "Feedback digest" in out and "payments" in out and "refund stuck" in out
    assert db.stat().st_mtime_ns == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


def test_digest_print_without_a_database_says_so_and_creates_none(tmp_path, monkeypatch,
                                                                  capsys):
    db = tmp_path / "missing.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["--config", str(EXAMPLE), "digest", "--print"]) == 2
    assert "no database" in capsys.readouterr().err
    assert not db.exists()


def test_digest_post_needs_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(["--config", str(EXAMPLE), "digest", "--post"]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


def test_suggest_rules_prints_a_config_diff(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    store = open_store(f"sqlite:///{db}")
    now = utcnow()
    for text in ("receipt missing in the app", "the app receipt is wrong"):
        item = make_item(workspace="T0DEMO", team="payments", text=text, reassignments=1,
                         forwarded_at=now, received_at=now)
        created = store.create_item(item=item, event=Event(0, "received", "U0S", now),
                                    outbox=[])
        store.update_item(workspace="T0DEMO", item_id=created.id, changes={},
                          event=Event(created.id, "reassigned", "U0CAROL", now,
                                      {"from": "mobile", "to": "payments"}))
    store.close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["--config", str(EXAMPLE), "suggest-rules"]) == 0
    out = capsys.readouterr().out
    assert "2 items with 'receipt' moved mobile → payments" in out
    assert "+    keywords: [refund, invoice, billing, charge, receipt]" in out


def test_suggest_rules_learns_only_from_the_days_asked_for(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    store = open_store(f"sqlite:///{db}")
    now = utcnow()
    for text, days_ago in (("receipt missing in the app", 40), ("the app receipt is wrong", 40),
                           ("app warranty total is off", 1), ("warranty in the app is late", 2),
                           ("voucher in the app expired", 120), ("app voucher not valid", 130)):
        moved_at = now - timedelta(days=days_ago)
        item = make_item(workspace="T0DEMO", team="payments", text=text, reassignments=1,
                         forwarded_at=moved_at, received_at=moved_at)
        created = store.create_item(item=item, event=Event(0, "received", "U0S", moved_at),
                                    outbox=[])
        store.update_item(workspace="T0DEMO", item_id=created.id, changes={},
                          event=Event(created.id, "reassigned", "U0CAROL", moved_at,
                                      {"from": "mobile", "to": "triage"}))
    store.close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["--config", str(EXAMPLE), "suggest-rules"]) == 0
    quarter = capsys.readouterr().out
    assert "'receipt'" in quarter and "'warranty'" in quarter
    assert "voucher" not in quarter  # older than the default 90 days
    assert main(["--config", str(EXAMPLE), "suggest-rules", "--all"]) == 0
    assert "2 items with 'voucher' moved mobile → triage" in capsys.readouterr().out
    assert main(["--config", str(EXAMPLE), "suggest-rules", "--days", "30"]) == 0
    recent = capsys.readouterr().out
    assert "2 items with 'warranty' moved mobile → triage" in recent
    assert "receipt" not in recent
    assert main(["--config", str(EXAMPLE), "suggest-rules", "--days", "0"]) == 2
    assert "--days" in capsys.readouterr().err


async def test_clock_warns_about_sqlite_and_stops_on_sigterm(tmp_path):
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        env = _cli_env(slack, tmp_path)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "clock", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert b"clock running" in line
        # The clock claims today's digest (every day is a digest day here, and the run
        # time has passed unless this runs before 09:00 Berlin) but never sends it.
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0
        assert b"must share that file" in err
        assert slack.calls_to("chat.postMessage") == []


async def test_digest_post_says_so_when_slack_refuses_the_post(tmp_path):
    config = _every_day_config(tmp_path)
    config.write_text(config.read_text().replace("  - channel: C0MANAGERS",
                                                 "  - channel: C0SECRET"))
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)  # the bot is not a member of C0SECRET
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack.api_url,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
               "FEEDBACKBOT_CONFIG": str(config)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "digest", "--post", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 1
        assert b"Posted" not in out
        assert b"Could not post the digest for C0SECRET" in err and b"--force" in err


async def _start_digest_post(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "digest", "--post", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _digest_post(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await _start_digest_post(env, *args)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


def _digest_posts(slack: FakeSlack) -> int:
    """How many digests Slack has in the managers' channel."""
    return len([call for call in slack.calls_to("chat.postMessage")
                if call.args.get("channel") == "C0MANAGERS"])


def _cli_env(slack: FakeSlack, tmp_path: Path, *, token: str = "xoxb-test") -> dict[str, str]:
    """The environment of a CLI run against `slack`, with every day a digest day."""
    return {**os.environ, "SLACK_BOT_TOKEN": token, "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "FEEDBACKBOT_CONFIG": str(_every_day_config(tmp_path))}


async def _kill_when_called(env: dict[str, str], slack: FakeSlack, method: str) -> None:
    """Start digest --post and kill -9 it once `method` reaches Slack (held there)."""
    slack.delay_next(method, seconds=60)
    process = await _start_digest_post(env)
    await slack.wait_for(method, timeout=60)
    process.kill()
    await process.wait()


async def test_digest_post_killed_mid_post_is_delivered_by_the_next_run_not_called_posted(
        tmp_path):
    # A digest --post killed after claiming the period but before Slack had the post used
    # to leave the next runs saying "already posted" while nothing was in Slack.
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        env = _cli_env(slack, tmp_path)
        # The shared-channel check comes before the post: hold it so the run dies first.
        await _kill_when_called(env, slack, "conversations.info")
        assert _digest_posts(slack) == 0

        slack.fail_next("chat.postMessage", count=100, status=500)
        code, out, err = await _digest_post(env, "--wait", "1")
        assert code == 1
        assert "queued, not yet delivered" in err and "C0MANAGERS" in err
        assert "Posted" not in out and "already posted" not in out
        assert _digest_posts(slack) == 0

        slack.clear_faults()
        code, out, err = await _digest_post(env)
        assert code == 0, err
        assert "Posted the digest for C0MANAGERS" in out and "earlier run" in out
        assert _digest_posts(slack) == 1

        code, out, _ = await _digest_post(env)
        assert code == 0
        assert "Nothing to post" in out and "already posted" in out
        assert _digest_posts(slack) == 1


async def test_digest_post_killed_while_slack_answers_finds_its_post_instead_of_posting_twice(
        tmp_path):
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        env = _cli_env(slack, tmp_path)
        # Slack has the post, but the run is killed before the answer arrives.
        await _kill_when_called(env, slack, "chat.postMessage")

        code, out, err = await _digest_post(env)
        assert code == 0, err
        assert "Posted the digest for C0MANAGERS" in out and "earlier run" in out
        assert _digest_posts(slack) == 1


async def test_digest_post_with_a_refused_token_says_so_in_one_line(tmp_path):
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        env = _cli_env(slack, tmp_path, token="not-a-slack-token")
        code, _, err = await _digest_post(env)
    assert code == 1
    assert "Slack refuses SLACK_BOT_TOKEN" in err and "Traceback" not in err


def test_a_run_whose_claim_another_run_sent_does_not_say_it_posted(capsys):
    from bot.digest_post import Posting, _report
    from bot.store import OutboxEntry

    now = utcnow()

    def entry(status: str) -> OutboxEntry:
        return OutboxEntry(id=7, workspace="T0DEMO", item_id=None, kind="digest",
                           payload={}, status=status, attempts=0, next_attempt_at=now,
                           unknown_fate=False, last_error=None, created_at=now)

    posting = Posting(where="C0MANAGERS, 2026-11-29", entry_id=7, forced=False,
                      claimed_now=True)
    code = _report([posting], {7: entry("pending")}, {7: entry("sent")}, delivered_here=set())
    out = capsys.readouterr().out
    assert code == 0
    assert "Posted the digest" not in out and "another run sent it" in out
    _report([posting], {7: entry("pending")}, {7: entry("sent")}, delivered_here={7})
    assert "Posted the digest for C0MANAGERS" in capsys.readouterr().out
