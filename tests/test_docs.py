"""The README stays honest: its commands work as written, and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)```", README, re.DOTALL)
    assert match, f"no fenced block after <!-- {marker} -->"
    return match.group(1).strip()


def _subcommands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:  # argparse keeps subparsers only here
        if action.dest == "command":
            return sorted(action.choices)  # type: ignore[arg-type]
    raise AssertionError("no subcommands found")


def test_quick_start_has_exactly_one_run_and_one_test_command():
    assert README.count("<!-- run -->") == 1
    assert README.count("<!-- test -->") == 1
    run, test = _block_after("run"), _block_after("test")
    assert "pip install" in run and "feedbackbot demo" in run
    assert "pip install" in test and "pytest" in test
    assert len(run.splitlines()) == 1 and len(test.splitlines()) == 1


def test_every_cli_subcommand_is_documented_in_the_readme():
    commands = _subcommands()
    assert {"serve", "socket", "check-config", "manifest", "export", "demo"} <= set(commands)
    missing = [name for name in commands if f"`feedbackbot {name}" not in README]
    assert missing == []


def test_every_documented_command_exists():
    documented = set(re.findall(r"`feedbackbot ([a-z-]+)", README))
    assert documented, "the README documents no commands"
    assert documented - set(_subcommands()) == set()


def test_every_environment_variable_is_documented():
    settings_source = (Path(__file__).resolve().parent.parent / "bot" / "settings.py").read_text()
    variables = set(re.findall(r'env\.get\("([A-Z_]+)"', settings_source))
    assert {"SLACK_BOT_TOKEN", "DATABASE_URL", "PORT"} <= variables
    missing = sorted(name for name in variables if f"`{name}`" not in README)
    assert missing == []
