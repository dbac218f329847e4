"""Workspace sections in the config: the merge rule, which section a key uses, and errors."""

from __future__ import annotations

from bot.cli import main
from bot.config import parse_config_text
from tests.slack_harness import EXAMPLE_CONFIG

BASE = EXAMPLE_CONFIG.read_text()

SECTIONS = """
workspaces:
  T0BBB:
    admins: [U0BLEAD]
    teams:
      billing: {channel: C0BBILLING, owners: [U0BCAROL], keywords: [refund]}
    fallback: billing
    customer_channels: {}
    relay: marked
  E0ORG:
    severity_default: high
  "E0ORG:T0OWN":
    sla: {urgent: 15m}
  "msteams:tenant-b": {same_as: T0BBB}
"""


def loaded(text: str):
    return parse_config_text(text, path="bot.yml")


def messages(text: str) -> list[str]:
    return [str(problem) for problem in loaded(text).problems]


def test_a_section_replaces_what_it_gives_and_keeps_the_rest():
    config = loaded(BASE + SECTIONS).config
    assert config is not None

    b = config.for_workspace("T0BBB")

    assert list(b.teams) == ["billing"]  # the section's teams, as a whole
    assert b.fallback == "billing" and b.admins == ["U0BLEAD"] and b.relay == "marked"
    assert b.intake == config.intake and b.digests == config.digests  # from the top
    assert b.sla == config.sla and b.retention_days == config.retention_days


def test_which_section_a_workspace_uses():
    config = loaded(BASE + SECTIONS).config
    assert config is not None

    assert config.for_workspace("T0DEMO") is config  # no section: the top level
    assert config.for_workspace(None) is config
    assert config.for_workspace("T0BBB") is config.for_workspace("T0BBB")  # cached
    assert config.for_workspace("msteams:tenant-b") is config.for_workspace("T0BBB")
    # An enterprise's section covers its workspaces without a section of their own.
    assert config.for_workspace("E0ORG:T0ANY").severity_default == "high"
    own = config.for_workspace("E0ORG:T0OWN")
    assert own.severity_default == "normal" and own.sla["urgent"] == "15m"
    assert own.sla["low"] == "3d"  # an `sla` given in part is filled with the defaults
    # A workspace's config asked for another workspace answers from the top level.
    assert config.for_workspace("T0BBB").for_workspace("T0DEMO") is config


def test_without_sections_every_workspace_uses_the_one_config():
    config = loaded(BASE).config
    assert config is not None

    assert config.for_workspace("T0DEMO") is config
    assert config.for_workspace("E0ORG:T0GRID") is config


def test_same_as_cannot_be_mixed_with_settings_of_its_own():
    text = BASE + 'workspaces:\n  "msteams:t1":\n    same_as: T0BBB\n    relay: marked\n'

    assert loaded(text).config is None
    assert messages(text) == [
        f"bot.yml:{BASE.count(chr(10)) + 2}: workspaces.msteams:t1: error: `same_as` joins "
        "this key to 'T0BBB', whose settings it then uses; it can't also give its own "
        "(relay): move them to the 'T0BBB' section, or remove `same_as`"]


def test_broken_sections_are_errors_at_their_file_line_and_key():
    start = BASE.count("\n") + 1  # the line of `workspaces:`
    text = BASE + """workspaces:
  T0BBB:
    teams:
      billing: {channel: C0BBILLING, owners: [U0BCAROL]}
  T0CCC:
    retention_days: 30
  T0DDD: {}
  nonsense:
    relay: marked
  T0EEE:
    teams:
      web: {channel: "19:abc@thread.tacv2", owners: [U0WEB]}
    fallback: mobile
  "msteams:t2": {same_as: "msteams:t3"}
"""
    found = [problem for problem in messages(text) if ": error: " in problem]

    assert loaded(text).config is None
    assert found == [
        f"bot.yml:{start + 4}: workspaces.T0CCC: error: `retention_days` applies to the "
        "whole deployment (one store); set it at the top level",
        f"bot.yml:{start + 6}: workspaces.T0DDD: error: empty workspace section: give "
        "`same_as` or settings of its own (admins, teams, fallback, customer_channels, "
        "intake, acknowledge, relay, severity_default, sla, digests, offer_hold_minutes)",
    ]
    # Shape errors stop the checks across settings; with them fixed, those are reported.
    fixed = text.replace("  T0CCC:\n    retention_days: 30\n", "").replace(
        "  T0DDD: {}\n", "")
    assert [problem for problem in messages(fixed) if ": error: " in problem] == [
        f"bot.yml:{start + 1}: workspaces.T0BBB: error: fallback names unknown team "
        "'triage' (teams: billing): the top-level `fallback` applies to this workspace; "
        "give the section a `fallback` of its own",
        f"bot.yml:{start + 4}: workspaces.nonsense: error: workspace key 'nonsense' "
        "is not a Slack workspace ID (T…), an Enterprise Grid org (E…) or workspace "
        "(E…:T…), or a Teams tenant (msteams:<tenant id>)",
        f"bot.yml:{start + 8}: workspaces.T0EEE.teams.web.channel: error: "
        "'19:abc@thread.tacv2' is not a Slack channel ID (C…); it looks like a Teams "
        "conversation ID; a Teams channel goes under `msteams.channel`",
        f"bot.yml:{start + 9}: workspaces.T0EEE.fallback: error: fallback names "
        "unknown team 'mobile' (teams: web)",
        f"bot.yml:{start + 10}: workspaces.msteams:t2.same_as: error: `same_as` must "
        "name a Slack workspace key (T… or E…:T…), got 'msteams:t3'",
    ]


def test_a_misspelt_key_in_a_section_gets_a_suggestion():
    text = BASE + "workspaces:\n  T0BBB:\n    admin: [U0B]\n"

    [problem] = messages(text)

    assert problem.endswith("workspaces.T0BBB.admin: error: unknown key 'admin' "
                            "(did you mean 'admins'?)")


def test_top_level_digests_naming_teams_a_section_lacks_are_an_error_there():
    text = """teams:
  payments: {channel: C0PAY, owners: [U0A]}
fallback: payments
digests:
  - {channel: C0MGR, at: "09:00", teams: [payments]}
workspaces:
  T0BBB:
    teams:
      billing: {channel: C0B, owners: [U0B]}
    fallback: billing
"""

    found = messages(text)

    assert found == [
        "bot.yml:7: workspaces.T0BBB: error: "
        "digest names unknown team 'payments' (teams: billing): the top-level `digests` "
        "applies to this workspace; give the section a `digests` of its own"]


def test_check_config_reports_a_broken_section_and_fails(tmp_path, capsys):
    path = tmp_path / "feedbackbot.yml"
    path.write_text(BASE + "workspaces:\n  T0BBB:\n    teams:\n      billing:\n"
                    "        channel: C0B\n        owners: []\n")

    code = main(["--config", str(path), "check-config"])

    out = capsys.readouterr().out
    assert code == 1
    line = BASE.count("\n") + 4
    assert (f"{path}:{line}: workspaces.T0BBB.teams.billing: error: team has no owners for"
            in out or f"{path}:{line + 2}: workspaces.T0BBB.teams.billing.owners: error:"
            in out), out


def test_check_config_accepts_good_sections(tmp_path, capsys):
    path = tmp_path / "feedbackbot.yml"
    path.write_text(BASE + SECTIONS)

    code = main(["--config", str(path), "check-config"])

    assert code == 0
    assert capsys.readouterr().out.strip().endswith(f"{path}: OK")


def test_the_readmes_example_of_sections_is_valid():
    readme = (EXAMPLE_CONFIG.parent.parent / "README.md").read_text()
    section = readme[readme.index("### Several workspaces"):]
    example = section[section.index("```yaml\n") + 8:section.index("```\n", 10)]

    result = loaded(example)

    assert result.problems == []
    config = result.config
    assert config is not None
    assert list(config.for_workspace("T0EUROPE").teams) == ["billing", "helpdesk"]
    assert config.for_workspace("E0ACME:T0OTHER").relay == "marked"
    assert config.for_workspace("E0ACME:T0ACMEUS").relay == "all"
    assert config.for_workspace("msteams:72f988bf-86f1-41af-91ab-2d7cd011db47") is \
        config.for_workspace("T0EUROPE")


def test_suggest_rules_adds_keywords_to_the_teams_the_moves_were_made_in(
        tmp_path, monkeypatch, capsys):
    from bot.models import Event, utcnow
    from storage import open_store
    from tests.fakes import make_item

    path = tmp_path / "feedbackbot.yml"
    path.write_text(BASE + """workspaces:
  T0BBB:
    teams:
      billing: {channel: C0BBILLING, owners: [U0BCAROL], keywords: [refund]}
      helpdesk: {channel: C0BHELP, owners: [U0BDAVE]}
    fallback: helpdesk
    customer_channels: {}
""")
    db = tmp_path / "bot.db"
    store = open_store(f"sqlite:///{db}")
    now = utcnow()
    for text in ("the warranty receipt is missing", "warranty terms unclear"):
        item = make_item(workspace="T0BBB", team="billing", text=text, reassignments=1,
                         forwarded_at=now, received_at=now)
        created = store.create_item(item=item, event=Event(0, "received", "U0S", now),
                                    outbox=[])
        store.update_item(workspace="T0BBB", item_id=created.id, changes={},
                          event=Event(created.id, "reassigned", "U0BCAROL", now,
                                      {"from": "helpdesk", "to": "billing"}))
    store.close()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")

    assert main(["--config", str(path), "suggest-rules"]) == 0

    out = capsys.readouterr().out
    assert "# workspaces.T0BBB: 2 items with 'warranty' moved helpdesk → billing" in out
    assert "+      billing: {channel: C0BBILLING, owners: [U0BCAROL], keywords: [refund," \
           " warranty]}" in out


def test_the_scheduler_wakes_up_for_every_sections_digests():
    from bot.scheduler import Scheduler

    config = loaded(BASE + """workspaces:
  T0BBB:
    digests:
      - {channel: C0BMGR, at: "10:30", timezone: Europe/Paris}
      - {channel: C0BMGR2, at: "09:00", timezone: Europe/Berlin}
""").config
    assert config is not None

    class Digests:
        def __init__(self) -> None:
            self.config = config

    scheduler = Scheduler(digests=Digests(), reminders=None,  # type: ignore[arg-type]
                          workspaces=list, after_tick=lambda: None)
    jobs: list[str] = []

    class Recording:
        def __init__(self, **_: object) -> None:
            self.running = True

        def add_job(self, _func, trigger, *, id: str, **_: object) -> None:
            jobs.append(f"{id} {trigger} {trigger.timezone}")

        def start(self) -> None:
            pass

        def shutdown(self, wait: bool) -> None:
            pass

    import bot.scheduler as module

    real = module.AsyncIOScheduler
    module.AsyncIOScheduler = Recording  # type: ignore[misc,assignment]
    try:
        scheduler.start()
    finally:
        module.AsyncIOScheduler = real  # type: ignore[misc]

    # The top level's 09:00 Berlin and B's 10:30 Paris; B's 09:00 Berlin is the same
    # wake-up as the top level's.
    digest_jobs = [job for job in jobs if job.startswith("digest-")]
    assert len(digest_jobs) == 2
    assert any("hour='10', minute='30'" in job and "Europe/Paris" in job
               for job in digest_jobs), digest_jobs


def test_configs_with_sections_compare_by_their_settings():
    first, second = loaded(BASE + SECTIONS).config, loaded(BASE + SECTIONS).config
    assert first is not None and second is not None
    second.for_workspace("E0ORG:T0ANY")  # one has looked up more workspaces than the other

    assert first == second
    assert first.for_workspace("T0BBB") == second.for_workspace("T0BBB")
    assert first != first.for_workspace("T0BBB")


def test_teams_channels_of_sections_are_checked_for_the_bots_install_too():
    from bot.install_check import configured_teams_channels

    config = loaded(BASE + """workspaces:
  "msteams:tenant-eu":
    teams:
      eu-billing:
        msteams: {channel: "19:eubilling@thread.tacv2", owners: [eu@example.com]}
    fallback: eu-billing
    customer_channels: {}
    intake: {msteams_channels: ["19:euintake@thread.tacv2"]}
""").config
    assert config is not None

    assert configured_teams_channels(config) == [
        ("workspaces.msteams:tenant-eu.teams.eu-billing.msteams.channel",
         "19:eubilling@thread.tacv2"),
        ("workspaces.msteams:tenant-eu.intake.msteams_channels[0]", "19:euintake@thread.tacv2"),
    ]


def test_slack_only_settings_in_a_teams_tenants_section_are_warned_about():
    text = BASE + """workspaces:
  "msteams:tenant-eu":
    teams:
      eu-billing:
        msteams: {channel: "19:eubilling@thread.tacv2", owners: [eu@example.com]}
      eu-slack: {channel: C0EUSLACK, owners: [U0EU]}
    fallback: eu-billing
    customer_channels: {}
    intake: {channels: [C0EUINTAKE]}
"""
    result = loaded(text)
    start = BASE.count("\n") + 1

    assert result.config is not None  # warnings only
    assert [str(problem) for problem in result.problems] == [
        f"bot.yml:{start + 5}: workspaces.msteams:tenant-eu.teams.eu-slack: warning: this "
        "team is on Slack only, and a Teams tenant's cards can't go to Slack: give it an "
        "`msteams:` place, or join the tenant to a Slack workspace with `same_as`",
        f"bot.yml:{start + 8}: workspaces.msteams:tenant-eu.intake.channels: warning: Slack "
        "intake channels never see a Teams tenant's messages: list Teams channels under "
        "`intake.msteams_channels`",
    ]


async def test_check_config_online_checks_the_tokens_workspace_with_its_section(tmp_path):
    import asyncio
    import os
    import sys

    from handlers.slack.standin.slack_server import FakeSlack
    from handlers.slack.standin.workspace import seed_workspace

    path = tmp_path / "feedbackbot.yml"
    # The token's workspace (T0DEMO) has a section whose team channel the bot is not in;
    # another workspace's section is not this token's to check.
    path.write_text(BASE + """workspaces:
  T0DEMO:
    teams:
      billing: {channel: C0NOTINVITED, owners: [U0ALICE]}
    fallback: billing
    customer_channels: {}
  T0OTHER:
    intake: {channels: [C0ELSEWHERE]}
""")
    async with FakeSlack(team_id="T0DEMO") as slack:
        seed_workspace(slack)
        slack.add_channel("C0NOTINVITED", "billing", bot_member=False)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(path), "check-config", "--online",
            env={**os.environ, "SLACK_BOT_TOKEN": "xoxb-test",
                 "SLACK_API_URL": slack.api_url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)

    printed = out.decode()
    assert process.returncode == 1, printed + err.decode()
    assert (f"{path}: workspaces.T0DEMO.teams.billing.channel: error: the bot is not a member"
            " of #billing (C0NOTINVITED)") in printed
    assert "C0ELSEWHERE" not in printed
