"""Platform adapters call the core's services, never the store: the product rules live once."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.store import Store

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "handlers"

# `close` is every connection's and session's method too, not a store's only.
STORE_METHODS = frozenset(
    name for name in dir(Store)
    if not name.startswith("_") and callable(getattr(Store, name)) and name != "close"
)

# The Slack port keeps whether a channel is shared in the store, as a lookup cache of
# what Slack said; the core still decides never to post there. The adapter hands the
# store to that port, and exposes it to callers outside its listeners (tests, the demo).
ALLOWED_CALLS = {
    ("handlers/slack/port.py", "self.store.get_channel_shared"),
    ("handlers/slack/port.py", "self.store.set_channel_shared"),
    # Bolt's installation and OAuth-state stores, implemented over ours (OAuth mode).
    *(("handlers/slack/installs.py", f"self.store.{name}")
      for name in ("install_save", "install_find", "install_delete", "oauth_state_issue",
                   "oauth_state_consume", "installed_workspaces")),
    ("handlers/slack/installs.py", "store.install_secrets"),
    ("handlers/slack/installs.py", "store.install_set_secrets"),
}
ALLOWED_STORE_ATTRIBUTES = {
    ("handlers/slack/port.py", "self.store"),
    ("handlers/slack/app.py", "self.store"),
    ("handlers/slack/app.py", "runtime.store"),
    ("handlers/slack/installs.py", "self.store"),
    # The Teams adapter hands the store to its port and to the core's ConversationBook.
    ("handlers/msteams/adapter.py", "runtime.store"),
}


# A platform's stand-in (a fake of the platform, and the demo that drives it) plays
# the people and the platform from outside the bot; it may read the store to show the story.
STAND_INS = "standin"


def adapter_modules() -> list[Path]:
    """Every module of every platform adapter, stand-ins left out."""
    return [path for path in sorted(HANDLERS.rglob("*.py"))
            if STAND_INS not in path.relative_to(HANDLERS).parts]


def store_uses(path: Path, *, root: Path = ROOT) -> list[str]:
    """Every call of a Store method, and every `.store` reached, in one module."""
    name = path.relative_to(root).as_posix()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in STORE_METHODS):
            called = ast.unparse(node.func)
            if (name, called) not in ALLOWED_CALLS:
                found.append(f"{name}:{node.lineno}: calls {called}()")
        elif isinstance(node, ast.Attribute) and node.attr == "store":
            reached = ast.unparse(node)
            if (name, reached) not in ALLOWED_STORE_ATTRIBUTES:
                found.append(f"{name}:{node.lineno}: reaches {reached}")
    return found


def test_no_adapter_calls_the_store():
    modules = adapter_modules()
    assert ROOT / "handlers/slack/card_actions.py" in modules
    offenders = [use for path in modules for use in store_uses(path)]
    assert offenders == []


def test_the_checker_sees_store_calls_and_store_attributes(tmp_path):
    # Guards the test above against silently parsing nothing.
    sample = tmp_path / "handlers" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "def listener(deps, runtime):\n"
        "    deps.store.find_item_by_source(workspace='T', channel='C', ts='1')\n"
        "    store = runtime.store\n"
        "    store.inbox_done(1)\n"
        "    deps.session.close()\n"
    )
    assert sorted(store_uses(sample, root=tmp_path)) == [
        "handlers/sample.py:2: calls deps.store.find_item_by_source()",
        "handlers/sample.py:2: reaches deps.store",
        "handlers/sample.py:3: reaches runtime.store",
        "handlers/sample.py:4: calls store.inbox_done()",
    ]


# Ports answer these lookups; only the core acts on the answer (who may forward or see
# figures, where the bot may post). The Slack port itself implements them.
RULE_LOOKUPS = frozenset({"is_internal_user", "is_shared_conversation"})
PORTS = {"handlers/slack/port.py"}


def rule_lookups(path: Path, *, root: Path = ROOT) -> list[str]:
    """Every call of a product-rule lookup in one module."""
    name = path.relative_to(root).as_posix()
    return [f"{name}:{node.lineno}: calls {ast.unparse(node.func)}()"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in RULE_LOOKUPS and name not in PORTS]


def test_no_adapter_decides_who_is_internal_or_where_to_post():
    offenders = [use for path in adapter_modules() for use in rule_lookups(path)]
    assert offenders == []
