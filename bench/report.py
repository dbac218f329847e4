"""What every benchmark shares: progress on stderr, the machine, and its section of the doc.

Each benchmark prints its table and then calls `record_section`, which writes the
table, the machine and the date into docs/benchmarks.md between two markers named
after the benchmark. A rerun replaces its own section and leaves the others alone.
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


class Progress:
    """A counter on stderr, redrawn in place at most ten times a second."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._last = 0.0

    def tick(self, count: int = 1) -> None:
        """Count `count` more done; redraw when due."""
        self.done += count
        now = time.monotonic()
        if self.done >= self.total or now - self._last > 0.1:
            self._last = now
            sys.stderr.write(f"\r  {self.label:<32} {self.done:>9}/{self.total}")
            sys.stderr.flush()

    def finish(self, extra: str = "") -> None:
        """Draw the final count and end the line."""
        sys.stderr.write(f"\r  {self.label:<32} {self.done:>9}/{self.total} {extra}\n")
        sys.stderr.flush()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures: CPU, cores, memory, versions."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": str(cpus),
        "memory": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "slack_bolt": _version("slack_bolt"),
        "aiohttp": _version("aiohttp"),
        "psycopg": _version("psycopg"),
    }


def machine_markdown() -> str:
    """The machine as one markdown line."""
    return "Machine: " + ", ".join(f"{key} {value}" for key, value in machine().items()) + "."


def load_markdown() -> str:
    """How busy the machine was: its load averages as the run ends (other work included)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return ""
    return (f"Load average as the run ended (1 / 5 / 15 min): {one:.1f} / {five:.1f} /"
            f" {fifteen:.1f} on {os.cpu_count()} cores.")


def record_section(name: str, title: str, body: str, *, doc: Path = DOC,
                   command: str | None = None) -> Path:
    """Write `body` with the date and machine into `doc` as the section `name`; return `doc`.

    The section sits between `<!-- bench:name -->` and `<!-- /bench:name -->`; it is
    replaced when present and appended at the end otherwise.
    """
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"<!-- bench:{name} -->", f"### {title}", "",
             f"Measured {today}. {machine_markdown()} {load_markdown()}".rstrip(), ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += [body.rstrip(), "", f"<!-- /bench:{name} -->"]
    section = "\n".join(lines)
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->",
                         re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text, encoding="utf-8")
    print(f"figures written to {doc} (section {name})", file=sys.stderr)
    return doc


def fresh_postgres_database(url: str) -> str:
    """Drop and create the PostgreSQL database `url` names, so a run starts empty; return `url`.

    Connects to the server's `postgres` database to do it; raises what psycopg raises
    when the server can't be reached or the role may not create databases.
    """
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return url
