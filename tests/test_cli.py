"""The command line, as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.models import Event, Item
from bot.settings import Settings, normalise_api_url
from bot.store import INBOX_MAX_ATTEMPTS
from handlers.slack.standin.slack_server import FakeSlack
from handlers.slack.standin.workspace import seed_workspace
from storage import open_store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "feedbackbot.yml"

BROKEN = """\
teams:
  payments:
    channel: C0PAYMENTS
    owners: [U0ALICE]
    keywords: [refund]
    patterns: ['double[']
  mobile:
    owners: [U0CAROL]
    keywords: [refund]
fallback: nobody
"""


def test_check_config_accepts_the_example(capsys):
    assert main(["--config", str(EXAMPLE), "check-config"]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_lists_every_problem_with_file_line_and_key(tmp_path, capsys):
    path = tmp_path / "feedbackbot.yml"
    path.write_text(BROKEN)
    assert main(["--config", str(path), "check-config"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:6: teams.payments.patterns[0]: error:" in out
    assert f"{path}:7: teams.mobile" in out and "channel" in out
    assert "fallback" in out and "nobody" in out


def test_check_config_exits_zero_on_warnings_alone(tmp_path, capsys):
    path = tmp_path / "feedbackbot.yml"
    path.write_text(
        "teams:\n  a:\n    channel: C0A\n    owners: [U0A]\n    keywords: [x]\n"
        "  b:\n    channel: C0B\n    owners: [U0B]\n    keywords: [x]\nfallback: a\n"
    )
    assert main(["--config", str(path), "check-config"]) == 0
    assert "warning" in capsys.readouterr().out


def test_check_config_reports_a_missing_file(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.yml"), "check-config"]) == 1
    assert "nope.yml" in capsys.readouterr().out


def test_serve_refuses_an_invalid_config_with_the_same_messages(tmp_path, capsys):
    path = tmp_path / "feedbackbot.yml"
    path.write_text(BROKEN)
    assert main(["--config", str(path), "serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:6: teams.payments.patterns[0]: error:" in err


def test_serve_explains_missing_credentials(monkeypatch, capsys):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    assert main(["--config", str(EXAMPLE), "serve"]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err


async def test_check_config_online_finds_shared_and_missing_channels(tmp_path, monkeypatch):
    config = tmp_path / "feedbackbot.yml"
    config.write_text(
        EXAMPLE.read_text()
        .replace("C0INTAKE", "C0ACMESHARED", 1)
        .replace("C0TRIAGE", "C0SECRET", 1)
    )
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        result = await _run_cli(
            ["--config", str(config), "check-config", "--online"],
            env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack.api_url.rstrip("/")},
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "C0ACMESHARED" in result.stdout and "shared" in result.stdout
    assert "not a member" in result.stdout and "C0SECRET" in result.stdout


async def test_check_config_online_passes_for_the_demo_workspace(tmp_path):
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        result = await _run_cli(
            ["--config", str(EXAMPLE), "check-config", "--online"],
            env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": slack.api_url},
        )
    assert result.returncode == 0, result.stdout + result.stderr


async def _run_cli(args: list[str], *, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import asyncio
    import os

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return subprocess.CompletedProcess(
        args, process.returncode or 0, stdout.decode(), stderr.decode()
    )


def _seed_items(path: Path) -> None:
    store = open_store(f"sqlite:///{path}")
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for index, text in enumerate(['refund, "quoted"\nsecond line', "crash on login"]):
        forwarded = base + timedelta(days=index * 10)
        item = Item(
            workspace="T0DEMO",
            id=0,
            team="payments",
            status="routed",
            text=text,
            customer=None,
            severity="normal",
            source_channel="C0INTAKE",
            source_ts=f"17000000{index}.000100",
            forwarded_by="U0SUPPORT",
            received_at=forwarded - timedelta(minutes=5),
            forwarded_at=forwarded,
        )
        store.create_item(item=item, event=Event(0, "received", "U0SUPPORT", forwarded), outbox=[])
    store.close()


def test_export_json_and_since(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    _seed_items(db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["export", "--format", "json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert [row["text"] for row in everything][1] == "crash on login"
    assert everything[0]["forwarded_at"] == "2026-03-01T12:00:00.000000Z"
    assert everything[0]["first_response_at"] is None
    assert main(["export", "--format", "json", "--since", "2026-03-05"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [2]


def test_export_csv_round_trips_text(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    _seed_items(db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["text"] == 'refund, "quoted"\nsecond line'
    assert rows[0]["first_response_at"] == ""


def test_export_rejects_a_bad_date(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--since", "last tuesday"])
    assert exit_info.value.code == 2
    assert "--since" in capsys.readouterr().err


def test_export_rejects_an_unknown_database_url(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["export"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_api_url_gets_a_trailing_slash():
    assert normalise_api_url("http://127.0.0.1:9/api") == "http://127.0.0.1:9/api/"
    assert normalise_api_url("http://127.0.0.1:9/api/") == "http://127.0.0.1:9/api/"
    assert normalise_api_url(None) == "https://slack.com/api/"
    assert Settings.from_env({"SLACK_API_URL": "http://x/api"}).api_url == "http://x/api/"


def test_a_non_numeric_port_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")
    assert main(["manifest"]) == 2
    assert "PORT" in capsys.readouterr().err


@pytest.mark.parametrize("since", [
    "111111111111111", "11111111", "1111-11-11", "2026-13-01", "9999-01-01", "20260301",
    "2026-03-01junk", "",
])
def test_export_rejects_an_implausible_since(since, tmp_path, monkeypatch, capsys):
    # 111111111111111 used to be read as 1111-11-11 and export everything.
    db = tmp_path / "bot.db"
    _seed_items(db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--since", since])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "--since" in captured.err and captured.out == ""


@pytest.mark.parametrize("since", ["2026-03-05", "2026-03-05T00:00Z", "2026-03-05 01:00+01:00"])
def test_export_since_takes_dates_and_times(since, tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    _seed_items(db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["export", "--format", "json", "--since", since]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == [2]


def test_check_config_counts_requests_that_were_given_up(tmp_path, monkeypatch, capsys):
    db = tmp_path / "bot.db"
    store = open_store(f"sqlite:///{db}")
    row = store.inbox_add(workspace="T0DEMO", kind="event_callback", dedupe_key="event:x",
                          body="{}", headers={}, received_at=datetime.now(UTC))
    assert row is not None
    for _ in range(INBOX_MAX_ATTEMPTS):
        store.inbox_failed_attempt(row, error="TypeError('odd shape')")
    store.close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["--config", str(EXAMPLE), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "1 stored Slack request(s) failed" in out and "gave up on stored request" in out
    assert "OK (1 warning(s))" in out


def _corrupt_database(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database, just bytes " * 200)
    return path


@pytest.mark.parametrize("case", ["corrupt-export", "corrupt-digest", "corrupt-serve",
                                  "missing-output-folder", "postgres-refuses"])
async def test_expected_failures_get_one_line_not_a_traceback(case, tmp_path):
    env = {"FEEDBACKBOT_CONFIG": str(EXAMPLE), "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_SIGNING_SECRET": "secret",
           "DATABASE_URL": f"sqlite:///{_corrupt_database(tmp_path)}"}
    args, expected = {
        "corrupt-export": (["export"], "file is not a database"),
        "corrupt-digest": (["digest", "--print"], "file is not a database"),
        "corrupt-serve": (["serve", "--port", "0", "--host", "127.0.0.1"],
                          "file is not a database"),
        "missing-output-folder": (["export", "--output", str(tmp_path / "no" / "such.csv")],
                                  "No such file or directory"),
        "postgres-refuses": (["export"], "cannot open PostgreSQL database"),
    }[case]
    if case == "missing-output-folder":
        _seed_items(tmp_path / "ok.db")
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ok.db'}"
    if case == "postgres-refuses":
        # Port 1 on loopback: nothing listens there.
        env["DATABASE_URL"] = "postgresql://feedbackbot:secret@127.0.0.1:1/feedbackbot"
    result = await _run_cli(args, env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("feedbackbot:")]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "secret@" not in result.stderr


def test_export_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    # `feedbackbot export | head`: the reader closes the pipe long before the last row.
    db = tmp_path / "bot.db"
    store = open_store(f"sqlite:///{db}")
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for index in range(400):
        forwarded = base + timedelta(minutes=index)
        item = Item(workspace="T0DEMO", id=0, team="payments", status="routed",
                    text=f"item {index}: " + "the refund never arrived " * 20, customer=None,
                    severity="normal", source_channel="C0INTAKE",
                    source_ts=f"1700000000.{index:06d}", forwarded_by="U0SUPPORT",
                    received_at=forwarded, forwarded_at=forwarded)
        store.create_item(item=item, event=Event(0, "received", "U0SUPPORT", forwarded),
                          outbox=[])
    store.close()
    import os

    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "export", "--format", "csv"],
        env={**os.environ, "DATABASE_URL": f"sqlite:///{db}"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"workspace,id,")
    process.stdout.close()  # what `head -1` does once it has its line
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, errors
    assert "Traceback" not in errors and "BrokenPipe" not in errors
