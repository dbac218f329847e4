"""The core must never depend on a chat SDK: adapters live in handlers/."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "bot"
FORBIDDEN = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "msteams",
             "microsoft_agents", "microsoft_teams")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_a_chat_sdk():
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] in FORBIDDEN
        )
        for path in CORE.rglob("*.py")
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert offenders == {}


def test_the_checker_sees_a_forbidden_import(tmp_path):
    # Guards the test above against silently parsing nothing.
    sample = tmp_path / "sample.py"
    sample.write_text("from slack_sdk.web import WebClient\nimport slack_bolt\n")
    assert {"slack_sdk.web", "slack_bolt"} <= _imported_modules(sample)


def test_importing_every_core_module_loads_no_chat_sdk():
    modules = sorted(
        ".".join(path.relative_to(CORE.parent).with_suffix("").parts) for path in CORE.rglob("*.py")
    )
    modules = [name.removesuffix(".__init__") for name in modules]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=CORE.parent, check=True
    )
    assert result.stdout.strip() == "[]"


# The CLI entry points are composition roots: they may ask storage/ to open the store
# DATABASE_URL names, and nothing more.
COMPOSITION_ROOTS = {"bot/cli.py": {"storage"}, "bot/cli_digest.py": {"storage"},
                     "bot/cli_support.py": {"storage"}, "bot/cli_forget.py": {"storage"}}


def test_the_core_never_imports_an_adapter_even_inside_a_function():
    # ast.walk sees imports inside functions and TYPE_CHECKING blocks too: platforms are
    # found as plugins (bot/platforms.py), never imported by name.
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] == "handlers")
        for path in CORE.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def run():\n    from handlers.slack.app import create_app\n")
    assert "handlers.slack.app" in _imported_modules(sample)


def test_the_command_line_loads_no_chat_sdk_until_a_platform_runs():
    script = (
        "import sys\n"
        "from bot.cli import build_parser\n"
        "build_parser().parse_args(['check-config'])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=CORE.parent, check=True)
    assert result.stdout.strip() == "[]"


def test_every_platform_is_found_as_a_plugin():
    from bot.platforms import load_platforms

    found = load_platforms()
    assert sorted(found.available) == ["msteams", "slack"], found.unavailable


def test_the_core_never_imports_a_storage_backend():
    offenders = {}
    for path in CORE.rglob("*.py"):
        name = str(path.relative_to(CORE.parent))
        allowed = COMPOSITION_ROOTS.get(name, set())
        storage = {
            module for module in _imported_modules(path) if module.split(".")[0] == "storage"
        }
        if storage - allowed:
            offenders[name] = sorted(storage - allowed)
    assert offenders == {}


# Slack's markup: a channel or user link, a special mention, or *bold* around a value.
_MARKUP = re.compile(r"<[#@]|<![a-z]"  # <#C1>, <@U1>, <!here>
                     r"|(?<![*\w])\*\{[^}]*\}\*(?!\*)"  # *{team}* in an f-string
                     r"|(?<![*\w])\*[A-Za-z][^*\n]*\*(?!\w)")  # *Bold words*


def _markup_in_strings(path: Path) -> list[str]:
    """Each string literal (or f-string) of a core module that holds chat markup."""
    return _markup_in_strings_at(path, root=CORE.parent)


def _markup_in_strings_at(path: Path, *, root: Path) -> list[str]:
    """Each string literal (or f-string) of a module that holds chat markup."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
             for part in node.values}
    # Docstrings are for readers of the code, where *emphasis* is fine.
    parts |= {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    for node in ast.walk(tree):
        if id(node) in parts:
            continue  # seen as part of its f-string
        if isinstance(node, ast.JoinedStr):
            text = ast.unparse(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _MARKUP.search(text):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {text[:60]!r}")
    return found


def test_the_core_writes_no_chat_markup():
    # The core returns codes and plain words; each platform words them in its markup.
    offenders = [hit for path in sorted(CORE.rglob("*.py")) for hit in _markup_in_strings(path)]
    assert offenders == []


def test_the_markup_checker_sees_links_and_bold(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "team = 'x'\n"
        "a = f'It is already with *{team}*.'\n"
        "b = f'the bot is not in <#{team}>'\n"
        "c = 'ask <@U1> or <!here>'\n"
        "d = 'a * b * c, and **kwargs'\n"
        "def f():\n"
        "    '''Only *when* to look.'''\n"
    )
    hits = [hit.split(":")[1] for hit in _markup_in_strings_at(sample, root=tmp_path)]
    assert hits == ["2", "3", "4"]


def test_serving_loads_matplotlib_only_when_a_digest_is_drawn():
    # It costs a third of a second and tens of MB at start, and only digests draw.
    script = (
        "import sys\n"
        "import bot.cli, bot.runtime, handlers.slack.app, handlers.msteams.adapter\n"
        "print('matplotlib' in sys.modules)\n"
        "from bot.chart import trend_chart_png\n"
        "trend_chart_png({}, title='t')\n"
        "print('matplotlib' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=CORE.parent, check=True)
    assert result.stdout.split() == ["False", "True"]
