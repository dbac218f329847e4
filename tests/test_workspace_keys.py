"""Which workspace key items live under: one per deployment, or one per workspace/tenant."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import Config, parse_config_text
from bot.runtime import Runtime
from bot.store import Store
from handlers.msteams.services import TeamsServices
from tests.fakes import FrozenClock, RecordingChatPort
from tests.slack_harness import EXAMPLE_CONFIG, example_config
from tests.store_backends import create, table_rows

JOINED = 'workspaces:\n  "msteams:tenant-joined": {same_as: T0DEMO}\n'


def joined_config() -> Config:
    loaded = parse_config_text(EXAMPLE_CONFIG.read_text() + JOINED)
    assert loaded.config is not None, loaded.problems
    return loaded.config


def teams_key(runtime: Runtime, tenant: str) -> str:
    services = TeamsServices(config=runtime.config, intake=runtime.intake,
                             lifecycle=runtime.lifecycle, views=runtime.views,
                             conversations=None,  # type: ignore[arg-type]
                             clock=runtime.clock, claim_workspace=runtime.claim_workspace)
    return services.workspace_for({"conversation": {"tenantId": tenant},
                                   "channelData": {"tenant": {"id": tenant}}})


async def test_one_deployment_keeps_every_platform_under_one_key(fresh_store: Store):
    runtime = Runtime(config=example_config(), store=fresh_store, clock=FrozenClock())

    slack = runtime.claim_workspace("T0DEMO")

    assert slack == "T0DEMO"
    assert teams_key(runtime, "tenant-1") == "T0DEMO"
    assert runtime.workspaces() == ["T0DEMO"]


async def test_many_workspaces_give_each_tenant_its_own_key_unless_joined(fresh_store: Store):
    runtime = Runtime(config=joined_config(), store=fresh_store, clock=FrozenClock())
    runtime.many_workspaces = True
    runtime.workspace_sources.append(lambda: ["T0DEMO", "T0BBB"])
    create(fresh_store, workspace="E0ORG:T0GRID")
    fresh_store.set_workspace_revoked(workspace="T0GONE", revoked_at=FrozenClock()())
    create(fresh_store, workspace="T0GONE")

    own = teams_key(runtime, "tenant-1")
    joined = teams_key(runtime, "tenant-joined")

    assert own == "msteams:tenant-1"
    assert joined == "T0DEMO"
    assert runtime.workspaces() == ["E0ORG:T0GRID", "T0BBB", "T0DEMO", "msteams:tenant-1"]


def test_a_workspace_section_needs_what_it_is_the_same_as():
    loaded = parse_config_text(EXAMPLE_CONFIG.read_text()
                               + 'workspaces:\n  "msteams:t": {same_as: ""}\n')

    assert loaded.config is None
    assert any("workspaces" in str(problem) for problem in loaded.errors)


TEAMS_DIGEST = ('  - msteams_channel: "19:managers@thread.tacv2"\n    at: "09:00"\n'
                "    timezone: Europe/Berlin\n")


class StandInPlatform:
    """Just enough of a platform for the runtime to count it as plugged in."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = RecordingChatPort(example_config())


async def test_each_workspace_gets_only_the_digests_of_its_own_platforms(fresh_store: Store):
    # Monday 2026-11-30 09:00 in Berlin: both digests of the config are due.
    clock = FrozenClock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    loaded = parse_config_text(EXAMPLE_CONFIG.read_text() + TEAMS_DIGEST + JOINED)
    assert loaded.config is not None, loaded.problems
    runtime = Runtime(config=loaded.config, store=fresh_store, clock=clock)
    for name in ("slack", "msteams"):
        runtime.add_platform(StandInPlatform(name))  # type: ignore[arg-type]
    runtime.many_workspaces = True
    runtime.key_prefixes["msteams"] = "msteams:"
    for workspace in ("T0DEMO", "T0BBB", "msteams:tenant-1"):
        create(fresh_store, workspace=workspace)

    await runtime.scheduler.tick()
    digests = sorted((row["workspace"], row["payload"].count("19:managers") > 0)
                     for row in table_rows(fresh_store, "outbox") if row["kind"] == "digest")

    assert runtime.platforms_of("T0DEMO") == {"slack", "msteams"}  # a tenant joins it
    assert digests == [("T0BBB", False), ("T0DEMO", False), ("T0DEMO", True),
                       ("msteams:tenant-1", True)]
