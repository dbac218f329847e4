"""Tests for bot.config: the models, the loader, and where problems are reported."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import (
    Config,
    ConfigProblem,
    LoadedConfig,
    TeamConfig,
    load_config,
    parse_config_text,
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "feedbackbot.yml"

BASE = """\
admins: [U0LEAD]
teams:
  payments:
    channel: C0PAYMENTS
    owners: [U0ALICE, U0BOB]
    keywords: [refund, invoice]
    patterns: ['double[- ]charg']
    customers: [acme]
  triage:
    channel: C0TRIAGE
    owners: [U0DAN]
fallback: triage
"""


def load(tmp_path: Path, text: str) -> LoadedConfig:
    """Write `text` to a config file and load it."""
    path = tmp_path / "feedbackbot.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def problem(result: LoadedConfig, key: str) -> ConfigProblem:
    """The single problem reported for `key`."""
    found = [p for p in result.problems if p.key == key]
    assert len(found) == 1, result.problems
    return found[0]


# --- the example file -------------------------------------------------------------------


def test_example_loads_without_any_problem() -> None:
    result = load_config(EXAMPLE)
    assert result.problems == []
    assert result.ok
    assert result.config is not None


def test_example_matches_the_demo_workspace() -> None:
    config = load_config(EXAMPLE).config
    assert config is not None
    assert config.admins == ["U0LEAD"]
    assert list(config.teams) == ["payments", "mobile", "triage"]
    payments, mobile = config.teams["payments"], config.teams["mobile"]
    assert payments.name == "payments"
    assert payments.owners == ["U0ALICE", "U0BOB"]
    assert payments.owner_group is None
    assert payments.keywords == ["refund", "invoice", "billing", "charge"]
    assert payments.escalate_to == "S0PAYLEADS"
    assert payments.business_hours is not None
    assert payments.business_hours.holidays == "DE"
    assert payments.business_hours.timezone == "Europe/Berlin"
    assert mobile.owners == ["S0MOBILEDEV"]
    assert mobile.owner_group == "S0MOBILEDEV"
    assert mobile.assign == "round_robin"
    assert config.fallback == "triage"
    assert config.customer_channels == {"C0ACMESHARED": "acme", "C0GLOBEXSHARED": "globex"}
    assert config.intake.channels == ["C0INTAKE"]
    assert config.intake.reaction == "inbox_tray"
    assert config.acknowledge.reactions == ["eyes", "white_check_mark"]
    assert config.sla_for("urgent") == timedelta(minutes=30)
    assert config.sla_for("low") == timedelta(days=3)
    assert config.retention_days == 365
    assert [(d.channel, d.at, d.timezone) for d in config.digests] == [
        ("C0MANAGERS", "09:00", "Europe/Berlin")
    ]
    assert config.team_for_channel("C0MOBILE") is mobile
    assert config.team_for_channel("C0NOPE") is None


# --- YAML 1.2 and the file itself -------------------------------------------------------


def test_yaml_12_keeps_times_and_country_codes_as_text(tmp_path: Path) -> None:
    text = BASE.replace(
        "    owners: [U0DAN]\n",
        "    owners: [U0DAN]\n    business_hours: {timezone: Europe/Oslo, holidays: NO}\n",
    )
    text += "digests:\n  - channel: C0MANAGERS\n    at: 10:30\n"
    result = load(tmp_path, text)
    assert result.problems == []
    assert result.config is not None
    assert result.config.digests[0].at == "10:30"
    hours = result.config.teams["triage"].business_hours
    assert hours is not None
    assert hours.holidays == "NO"


def test_missing_file_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    result = load_config(path)
    assert not result.ok
    assert result.config is None
    assert [(p.path, p.line, p.message) for p in result.errors] == [
        (str(path), None, "config file not found")
    ]


def test_unreadable_path_is_a_problem(tmp_path: Path) -> None:
    result = load_config(tmp_path)
    assert result.config is None
    assert result.errors[0].message.startswith("cannot read config file")


def test_yaml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    text = BASE.replace("keywords: [refund, invoice]", "keywords: [refund, invoice")
    result = load(tmp_path, text)
    assert result.config is None
    [error] = result.errors
    assert error.message.startswith("YAML syntax error")
    assert error.line == line_of(text, "patterns:")


def test_duplicate_key_is_a_yaml_error(tmp_path: Path) -> None:
    text = BASE + "fallback: payments\n"
    [error] = load(tmp_path, text).errors
    assert 'duplicate key "fallback"' in error.message
    assert error.line == line_of(text, "fallback:", occurrence=2)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    [error] = load(tmp_path, "# nothing yet\n").errors
    assert "empty" in error.message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    [error] = load(tmp_path, "- teams\n").errors
    assert "mapping" in error.message


# --- schema errors, mapped back to lines ------------------------------------------------


def test_unknown_key_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    text = BASE.replace("    keywords:", "    keyword:")
    found = problem(load(tmp_path, text), "teams.payments.keyword")
    assert found.severity == "error"
    assert found.message == "unknown key 'keyword' (did you mean 'keywords'?)"
    assert found.line == line_of(text, "keyword:")


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    text = BASE + "colour: blue\n"
    result = load(tmp_path, text)
    assert result.config is None
    assert problem(result, "colour").line == line_of(text, "colour:")


def test_team_without_channel(tmp_path: Path) -> None:
    text = BASE.replace("    channel: C0TRIAGE\n", "")
    found = problem(load(tmp_path, text), "teams.triage")
    assert found.message.startswith("team has no channel: give a Slack `channel`")
    assert "`msteams:` section" in found.message
    assert found.line == line_of(text, "triage:")


def test_bad_regex_names_the_pattern(tmp_path: Path) -> None:
    text = BASE.replace("patterns: ['double[- ]charg']", "patterns: ['ok', 'double[']")
    found = problem(load(tmp_path, text), "teams.payments.patterns[1]")
    assert found.message == "bad regex 'double[': unterminated character set"
    assert found.line == line_of(text, "patterns:")


def test_empty_keyword_is_an_error(tmp_path: Path) -> None:
    text = BASE.replace("keywords: [refund, invoice]", "keywords:\n      - refund\n      - ''")
    found = problem(load(tmp_path, text), "teams.payments.keywords[1]")
    assert found.message == "keyword is empty"
    assert found.line == line_of(text, "- ''")


def test_holidays_must_be_a_two_letter_code(tmp_path: Path) -> None:
    text = BASE.replace(
        "    owners: [U0DAN]\n",
        "    owners: [U0DAN]\n    business_hours:\n      timezone: UTC\n      holidays: Germany\n",
    )
    found = problem(load(tmp_path, text), "teams.triage.business_hours.holidays")
    assert "two-letter country code" in found.message
    assert found.line == line_of(text, "holidays:")


def test_business_hours_timezone_and_order_are_checked(tmp_path: Path) -> None:
    text = BASE.replace(
        "    owners: [U0DAN]\n",
        "    owners: [U0DAN]\n    business_hours:\n      timezone: Mars/Base\n"
        '      hours: "17:00-09:00"\n      days: [Mon, funday]\n',
    )
    result = load(tmp_path, text)
    zone = problem(result, "teams.triage.business_hours.timezone")
    assert "unknown time zone 'Mars/Base'" in zone.message
    assert zone.line == line_of(text, "timezone:")
    hours = problem(result, "teams.triage.business_hours.hours")
    assert "start must be before the end" in hours.message
    assert hours.line == line_of(text, "  hours:")
    day = problem(result, "teams.triage.business_hours.days[1]")
    assert "'funday'" in day.message


def test_digest_time_must_be_text(tmp_path: Path) -> None:
    text = (
        BASE + "digests:\n  - channel: C0MANAGERS\n    at: 9\n  - channel: C0M\n    at: '25:00'\n"
    )
    result = load(tmp_path, text)
    not_text = problem(result, "digests[0].at")
    assert "quote it" in not_text.message
    assert not_text.line == line_of(text, "at: 9")
    assert "24-hour time" in problem(result, "digests[1].at").message


def test_wrong_types_and_values_are_reported(tmp_path: Path) -> None:
    text = BASE + "retention_days: 0\nrelay: some\nsla: {urgent: 30, critical: 1h, low: 3x}\n"
    result = load(tmp_path, text)
    assert result.config is None
    assert problem(result, "retention_days").line == line_of(text, "retention_days:")
    assert "got 'some'" in problem(result, "relay").message
    assert "expected a duration" in problem(result, "sla.urgent").message
    assert "unknown unit 'x'" in problem(result, "sla.low").message
    critical = problem(result, "sla.critical")
    assert critical.line == line_of(text, "sla:")


def test_teams_must_not_be_empty(tmp_path: Path) -> None:
    found = problem(load(tmp_path, "teams: {}\n"), "teams")
    assert found.message.startswith("no teams configured")
    assert found.line == 1


# --- cross-field checks ------------------------------------------------------------------


def test_unknown_fallback_is_an_error(tmp_path: Path) -> None:
    text = BASE.replace("fallback: triage", "fallback: support")
    result = load(tmp_path, text)
    assert result.config is None
    found = problem(result, "fallback")
    assert found.severity == "error"
    assert "unknown team 'support'" in found.message
    assert found.line == line_of(text, "fallback:")


def test_missing_fallback_is_only_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, BASE.replace("fallback: triage\n", ""))
    assert result.ok
    assert result.config is not None
    assert [(w.key, w.line) for w in result.warnings] == [("fallback", None)]
    assert "nowhere to go" in result.warnings[0].message


def test_keyword_claimed_twice_warns_at_the_second(tmp_path: Path) -> None:
    text = BASE.replace(
        "    owners: [U0DAN]\n", "    owners: [U0DAN]\n    keywords: [bug, Refund]\n"
    )
    result = load(tmp_path, text)
    assert result.ok
    found = problem(result, "teams.triage.keywords[1]")
    assert found.severity == "warning"
    assert "'payments'" in found.message and "'triage'" in found.message
    assert found.line == line_of(text, "[bug, Refund]")


def test_customer_owned_by_two_teams_is_an_error(tmp_path: Path) -> None:
    text = BASE.replace("    owners: [U0DAN]\n", "    owners: [U0DAN]\n    customers: [ACME]\n")
    result = load(tmp_path, text)
    found = problem(result, "teams.triage.customers[0]")
    assert found.severity == "error"
    assert "'payments'" in found.message and "'triage'" in found.message
    assert found.line == line_of(text, "customers: [ACME]")
    assert result.config is None


def test_customer_channel_without_owner_is_a_warning(tmp_path: Path) -> None:
    text = BASE + "customer_channels:\n  C0ACMESHARED: acme\n  C0INITECH: initech\n"
    result = load(tmp_path, text)
    assert result.ok
    found = problem(result, "customer_channels.C0INITECH")
    assert found.severity == "warning"
    assert "'initech'" in found.message
    assert found.line == line_of(text, "C0INITECH")
    assert len(result.warnings) == 1


def test_digest_naming_unknown_team(tmp_path: Path) -> None:
    text = BASE + "digests:\n  - channel: C0M\n    at: '09:00'\n    teams:\n      - payments\n"
    text += "      - growth\n"
    found = problem(load(tmp_path, text), "digests[0].teams[1]")
    assert "unknown team 'growth'" in found.message
    assert found.line == line_of(text, "- growth")


def test_owner_ids_must_look_like_slack_ids(tmp_path: Path) -> None:
    text = BASE.replace("owners: [U0ALICE, U0BOB]", "owners: [U0ALICE, alice@example.com]")
    found = problem(load(tmp_path, text), "teams.payments.owners[1]")
    assert "'alice@example.com'" in found.message
    assert found.line == line_of(text, "alice@example.com")


def test_owners_may_not_mix_a_group_with_users(tmp_path: Path) -> None:
    text = BASE.replace("owners: [U0ALICE, U0BOB]", "owners: [S0PAYDEV, U0BOB]")
    found = problem(load(tmp_path, text), "teams.payments.owners")
    assert "mix user group 'S0PAYDEV'" in found.message
    assert found.line == line_of(text, "S0PAYDEV")


def test_owners_may_name_only_one_group(tmp_path: Path) -> None:
    text = BASE.replace("owners: [U0ALICE, U0BOB]", "owners: [S0ONE, S0TWO]")
    found = problem(load(tmp_path, text), "teams.payments.owners")
    assert "only one user group" in found.message


def test_a_single_owner_string_becomes_a_list(tmp_path: Path) -> None:
    result = load(tmp_path, BASE.replace("owners: [U0DAN]", "owners: S0TRIAGE"))
    assert result.config is not None
    assert result.config.teams["triage"].owners == ["S0TRIAGE"]
    assert result.config.teams["triage"].owner_group == "S0TRIAGE"


def test_escalate_to_and_admins_must_be_ids(tmp_path: Path) -> None:
    text = BASE.replace("admins: [U0LEAD]", "admins: [U0LEAD, S0LEADS]").replace(
        "    owners: [U0DAN]\n", "    owners: [U0DAN]\n    escalate_to: '@lead'\n"
    )
    result = load(tmp_path, text)
    admin = problem(result, "admins[1]")
    assert "'S0LEADS'" in admin.message
    assert admin.line == 1
    escalate = problem(result, "teams.triage.escalate_to")
    assert "'@lead'" in escalate.message
    assert escalate.line == line_of(text, "escalate_to:")


def test_team_names_come_from_keys_not_a_name_field(tmp_path: Path) -> None:
    text = BASE.replace("    owners: [U0DAN]\n", "    owners: [U0DAN]\n    name: other\n")
    found = problem(load(tmp_path, text), "teams.triage.name")
    assert found.line == line_of(text, "name: other")


def test_problems_are_in_file_order(tmp_path: Path) -> None:
    text = BASE.replace("admins: [U0LEAD]", "admins: [bob]").replace(
        "fallback: triage", "fallback: nobody"
    )
    lines = [p.line for p in load(tmp_path, text).problems]
    assert lines == [1, line_of(text, "fallback:")]


# --- models and formatting ---------------------------------------------------------------


def test_problem_str_format() -> None:
    with_line = ConfigProblem(
        path="feedbackbot.yml",
        line=14,
        key="teams.payments.patterns[0]",
        message="bad regex 'double[': unterminated character set",
        severity="error",
    )
    assert str(with_line) == (
        "feedbackbot.yml:14: teams.payments.patterns[0]: error: "
        "bad regex 'double[': unterminated character set"
    )
    without_line = ConfigProblem("cfg.yml", None, "fallback", "no fallback team", "warning")
    assert str(without_line) == "cfg.yml: fallback: warning: no fallback team"


def test_str_of_a_loaded_problem_uses_the_file_path(tmp_path: Path) -> None:
    text = BASE.replace("fallback: triage", "fallback: nobody")
    result = load(tmp_path, text)
    expected = f"{tmp_path / 'feedbackbot.yml'}:{line_of(text, 'fallback:')}: fallback: error: "
    assert str(result.errors[0]).startswith(expected)


def test_defaults_and_emoji_colons() -> None:
    text = BASE + "intake:\n  reaction: ':inbox_tray:'\nacknowledge:\n  reactions: [':eyes:']\n"
    text += "sla: {urgent: 10m}\n"
    result = parse_config_text(text, path="x.yml")
    assert result.config is not None
    config = result.config
    assert config.intake.reaction == "inbox_tray"
    assert config.acknowledge.reactions == ["eyes"]
    assert config.sla_for("urgent") == timedelta(minutes=10)
    assert config.sla_for("normal") == timedelta(hours=8)
    assert config.relay == "all"
    assert config.severity_default == "normal"
    assert config.teams["payments"].assign == "all"


def test_an_emptied_section_means_defaults() -> None:
    result = parse_config_text(BASE + "intake:\nacknowledge:\n")
    assert result.config is not None
    assert result.config.intake.reaction == "inbox_tray"
    assert result.config.acknowledge.reactions == ["eyes"]


def test_models_built_in_code_fill_team_names_and_keep_order() -> None:
    config = Config(
        teams={
            "b": TeamConfig(channel="C0SAME", owners=["U0X"]),
            "a": TeamConfig(channel="C0SAME", owners="S0GROUP"),  # type: ignore[arg-type]
        }
    )
    assert [t.name for t in config.teams.values()] == ["b", "a"]
    assert config.teams["a"].owners == ["S0GROUP"]
    found = config.team_for_channel("C0SAME")
    assert found is not None and found.name == "b"


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("  relay: all\n", "teams.relay"),
        ("intake: {reaction: ''}\n", "intake.reaction"),
        ("digests: [{channel: C0M, at: '09:00', days: []}]\n", "digests[0].days"),
    ],
)
def test_more_bad_values(snippet: str, key: str) -> None:
    result = parse_config_text(BASE.replace("fallback: triage\n", "") + snippet)
    assert result.config is None
    assert any(p.key.startswith(key) for p in result.errors), result.problems


def test_a_yaml_alias_bomb_is_refused_quickly_and_clearly() -> None:
    import time

    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    bomb = "\n".join(lines) + "\nteams: {t: {channel: C0T, owners: [U0A]}}\n"
    started = time.monotonic()
    loaded = parse_config_text(bomb)
    assert time.monotonic() - started < 5
    assert loaded.config is None
    assert "aliases" in loaded.errors[0].message


def test_an_unknown_key_arriving_through_a_merge_key_is_reported_not_a_crash() -> None:
    text = (
        "teams:\n"
        "  payments: &base {channel: C0PAY, owners: [U0ALICE], bogus: 1}\n"
        "  triage:\n"
        "    <<: *base\n"
        "    channel: C0TRIAGE\n"
    )
    loaded = parse_config_text(text)
    assert loaded.config is None
    keys = {problem.key for problem in loaded.errors}
    assert {"teams.payments.bogus", "teams.triage.bogus"} <= keys
    # Everything of a team merged in: ruamel keeps no positions for it at all.
    merged_only = parse_config_text(
        "teams:\n  triage:\n    <<: {channel: C0TRIAGE, owners: [U0DAN], bogus: 1}\n")
    assert "teams.triage.bogus" in {problem.key for problem in merged_only.errors}


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<!pre)fund", r"refund(?=s)"])
def test_a_pattern_that_needs_backtracking_is_an_error(tmp_path: Path, pattern: str) -> None:
    # Such patterns can take minutes on one customer message; the bot must not start.
    text = BASE.replace("patterns: ['double[- ]charg']", f"patterns: ['{pattern}']")
    found = problem(load(tmp_path, text), "teams.payments.patterns[0]")
    assert found.severity == "error"
    assert "can't be run safely" in found.message and "RE2" in found.message
    assert found.line == line_of(text, "patterns:")
