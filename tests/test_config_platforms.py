"""Per-platform config: teams on Slack, on Teams or both, and ids checked by platform."""

from __future__ import annotations

import pytest

from bot.config import ConfigProblem, LoadedConfig, parse_config_text

MIXED = """\
admins: [U0LEAD, lead@example.com, 0f8fad5b-d9cb-469f-a165-70867728950e]
teams:
  payments:
    channel: C0PAYMENTS
    owners: [U0CAROL]
  mobile:
    msteams:
      channel: "19:abc123@thread.tacv2"
      owners: [carol@example.com, 7c9e6679-7425-40de-944b-e07fc1f90ae7]
  web:
    channel: C0WEB
    owners: [U0DAN]
    msteams: {channel: "19:x@thread.skype", owners: [dan@example.com]}
fallback: payments
intake:
  channels: [C0INTAKE]
  msteams_channels: ["19:def456@thread.tacv2"]
digests:
  - channel: C0MANAGERS
    at: "09:00"
  - msteams_channel: "19:ghi789@thread.tacv2"
    at: "09:00"
    timezone: Europe/Berlin
"""


def parse(text: str) -> LoadedConfig:
    """Validate config text."""
    return parse_config_text(text, path="feedbackbot.yml")


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line containing `needle`."""
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def problem(result: LoadedConfig, key: str) -> ConfigProblem:
    """The single problem reported for `key`."""
    found = [p for p in result.problems if p.key == key]
    assert len(found) == 1, result.problems
    return found[0]


# --- the shape ---------------------------------------------------------------------------


def test_a_team_lives_on_slack_on_teams_or_on_both() -> None:
    result = parse(MIXED)
    assert result.problems == []
    assert result.config is not None
    teams = result.config.teams
    assert teams["payments"].platforms == ("slack",)
    assert teams["mobile"].platforms == ("msteams",)
    assert teams["web"].platforms == ("slack", "msteams")
    assert teams["mobile"].channel is None and teams["mobile"].owners == []
    assert teams["mobile"].channel_on("msteams") == "19:abc123@thread.tacv2"
    assert teams["mobile"].channel_on("slack") is None
    assert teams["mobile"].owners_on("msteams") == [
        "carol@example.com", "7c9e6679-7425-40de-944b-e07fc1f90ae7"]
    assert teams["mobile"].owners_on("slack") == []
    assert teams["web"].channel_on("slack") == "C0WEB"
    assert teams["web"].owners_on("slack") == ["U0DAN"]
    assert teams["web"].owners_on("msteams") == ["dan@example.com"]
    assert teams["payments"].owners_on("msteams") == []


def test_team_for_channel_looks_on_the_given_platform() -> None:
    config = parse(MIXED).config
    assert config is not None
    found = config.team_for_channel("19:x@thread.skype", "msteams")
    assert found is not None and found.name == "web"
    web = config.team_for_channel("C0WEB")
    assert web is not None and web.name == "web"
    assert config.team_for_channel("19:x@thread.skype") is None  # not a Slack channel
    assert config.team_for_channel("C0WEB", "msteams") is None


def test_intake_and_digests_on_teams() -> None:
    config = parse(MIXED).config
    assert config is not None
    assert config.intake.msteams_channels == ["19:def456@thread.tacv2"]
    slack, teams = config.digests
    assert (slack.platform, slack.target) == ("slack", "C0MANAGERS")
    assert (teams.platform, teams.target) == ("msteams", "19:ghi789@thread.tacv2")
    assert teams.channel is None


def test_slack_only_configs_keep_their_meaning() -> None:
    text = "teams:\n  payments:\n    channel: C0PAY\n    owners: U0A\n"
    config = parse(text).config
    assert config is not None
    team = config.teams["payments"]
    assert (team.channel, team.owners, team.msteams) == ("C0PAY", ["U0A"], None)
    assert team.platforms == ("slack",)
    assert config.intake.msteams_channels == []


# --- shape errors ------------------------------------------------------------------------


def test_a_slack_channel_needs_slack_owners() -> None:
    text = MIXED.replace("    owners: [U0CAROL]\n", "")
    found = problem(parse(text), "teams.payments")
    assert "no owners for its Slack channel" in found.message
    assert found.line == line_of(text, "payments:")


def test_slack_owners_without_a_slack_channel_are_an_error() -> None:
    text = MIXED.replace("  mobile:\n", "  mobile:\n    owners: [U0EVE]\n")
    found = problem(parse(text), "teams.mobile")
    assert "`owners` without a Slack `channel`" in found.message
    assert "msteams.owners" in found.message


def test_teams_section_needs_a_channel_and_owners() -> None:
    no_channel = MIXED.replace('      channel: "19:abc123@thread.tacv2"\n', "")
    assert problem(parse(no_channel), "teams.mobile.msteams.channel").message == (
        "missing required key 'channel'")
    no_owners = MIXED.replace(
        "      owners: [carol@example.com, 7c9e6679-7425-40de-944b-e07fc1f90ae7]",
        "      owners: []")
    found = problem(parse(no_owners), "teams.mobile.msteams.owners")
    assert found.message.startswith("team has no owners on Teams")
    assert found.line == line_of(no_owners, "owners: []")


def test_a_single_teams_owner_may_be_written_without_brackets() -> None:
    text = MIXED.replace("owners: [dan@example.com]", "owners: dan@example.com")
    config = parse(text).config
    assert config is not None
    assert config.teams["web"].owners_on("msteams") == ["dan@example.com"]


def test_unknown_key_in_the_teams_section_is_an_error_with_a_suggestion() -> None:
    text = MIXED.replace("owners: [dan@example.com]", "owner: [dan@example.com]")
    result = parse(text)
    assert result.config is None
    found = problem(result, "teams.web.msteams.owner")
    assert found.message == "unknown key 'owner' (did you mean 'owners'?)"


def test_a_digest_posts_in_exactly_one_place() -> None:
    both = MIXED.replace('  - msteams_channel: "19:ghi789@thread.tacv2"\n',
                         '  - msteams_channel: "19:ghi789@thread.tacv2"\n    channel: C0M\n')
    found = problem(parse(both), "digests[1]")
    assert "not both" in found.message
    assert found.line == line_of(both, "msteams_channel:")
    neither = MIXED.replace('  - msteams_channel: "19:ghi789@thread.tacv2"\n    at:',
                            "  - at:")
    found = problem(parse(neither), "digests[1]")
    assert found.message.startswith("digest has no channel")


# --- ids by platform ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        # A Slack id where Teams wants its own.
        ('channel: "19:abc123@thread.tacv2"', "channel: C0MOBILE",
         "teams.mobile.msteams.channel", "it looks like a Slack channel ID"),
        ("owners: [carol@example.com,", "owners: [U0CAROL,",
         "teams.mobile.msteams.owners[0]", "it looks like a Slack user ID"),
        ('msteams_channels: ["19:def456@thread.tacv2"]', "msteams_channels: [C0INTAKE]",
         "intake.msteams_channels[0]", "it looks like a Slack channel ID"),
        ('- msteams_channel: "19:ghi789@thread.tacv2"', "- msteams_channel: C0MANAGERS",
         "digests[1].msteams_channel", "it looks like a Slack channel ID"),
        # A Teams id where Slack wants its own.
        ("channel: C0PAYMENTS", 'channel: "19:abc@thread.tacv2"',
         "teams.payments.channel", "it looks like a Teams conversation ID"),
        ("owners: [U0CAROL]", "owners: [carol@example.com]",
         "teams.payments.owners[0]", "Teams owners go under `msteams.owners`"),
        ("channels: [C0INTAKE]", 'channels: ["19:def@thread.tacv2"]',
         "intake.channels[0]", "`intake.msteams_channels`"),
        ("  - channel: C0MANAGERS", '  - channel: "19:m@thread.tacv2"',
         "digests[0].channel", "`msteams_channel`"),
        # Neither platform's shape.
        ("owners: [carol@example.com,", "owners: [carol,",
         "teams.mobile.msteams.owners[0]", "an email/UPN or an Entra object ID"),
        ('channel: "19:abc123@thread.tacv2"', 'channel: "mobile-devs"',
         "teams.mobile.msteams.channel", "a Teams channel ID (19:…@thread.tacv2)"),
    ],
)
def test_ids_are_checked_against_their_platform(old: str, new: str, key: str,
                                                says: str) -> None:
    assert old in MIXED
    text = MIXED.replace(old, new, 1)
    result = parse(text)
    assert result.config is None
    found = problem(result, key)
    assert found.severity == "error"
    assert says in found.message, found.message
    assert found.line == line_of(text, new)


def test_a_teams_chat_user_id_is_refused_with_what_to_use_instead() -> None:
    text = MIXED.replace("owners: [dan@example.com]", 'owners: ["29:1abcDEF"]')
    found = problem(parse(text), "teams.web.msteams.owners[0]")
    assert "a Teams chat user ID; use the person's email or Entra object ID" in found.message


def test_a_teams_id_as_a_customer_channel_is_an_error() -> None:
    text = MIXED + 'customer_channels:\n  "19:shared@thread.tacv2": acme\n'
    found, = parse(text).errors
    assert found.key == "customer_channels.19:shared@thread.tacv2"
    assert "looks like a Teams conversation ID" in found.message


def test_admins_may_be_slack_users_or_teams_people_but_nothing_else() -> None:
    text = MIXED.replace("admins: [U0LEAD,", 'admins: ["19:x@thread.tacv2", S0LEADS, U0LEAD,')
    result = parse(text)
    assert result.config is None
    assert [p.key for p in result.errors] == ["admins[0]", "admins[1]"]
    assert "looks like a Teams conversation ID" in result.errors[0].message
    assert "looks like a Slack user group ID" in result.errors[1].message


def test_escalate_to_stays_on_slack() -> None:
    text = MIXED.replace("  mobile:\n", "  mobile:\n    escalate_to: U0LEAD\n")
    found = problem(parse(text), "teams.mobile.escalate_to")
    assert "works on Slack only" in found.message
    email = MIXED.replace("    owners: [U0DAN]\n",
                          "    owners: [U0DAN]\n    escalate_to: x@y.com\n")
    found = problem(parse(email), "teams.web.escalate_to")
    assert "is not a Slack user ID" in found.message and "an email" in found.message
