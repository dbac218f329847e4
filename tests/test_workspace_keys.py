"""Which workspace key items live under: one per deployment, or one per workspace/tenant."""

from __future__ import annotations

from bot.config import Config, parse_config_text
from bot.runtime import Runtime
from bot.store import Store
from handlers.msteams.services import TeamsServices
from tests.fakes import FrozenClock
from tests.slack_harness import EXAMPLE_CONFIG, example_config
from tests.store_backends import create

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
