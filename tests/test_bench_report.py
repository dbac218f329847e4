"""Benchmarks write their figures into their own section of docs/benchmarks.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPORT = Path(__file__).resolve().parent.parent / "bench" / "report.py"


def load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_section_is_appended_then_replaced_leaving_others(tmp_path: Path) -> None:
    report = load_report()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written words.\n", encoding="utf-8")
    report.record_section("figures", "Figures", "| a | 1 |", doc=doc)
    report.record_section("outbox", "Outbox", "| b | 2 |", doc=doc, command="python bench/x.py")
    report.record_section("figures", "Figures", "| a | 3 |", doc=doc)
    text = doc.read_text(encoding="utf-8")
    assert "Hand-written words." in text
    assert text.count("<!-- bench:figures -->") == 1
    assert "| a | 3 |" in text and "| a | 1 |" not in text
    assert "| b | 2 |" in text and "`python bench/x.py`" in text
    assert text.index("<!-- bench:figures -->") < text.index("<!-- bench:outbox -->")
    assert "cores" in text and "sqlite" in text


def test_progress_counts_to_its_total(capsys: object) -> None:
    report = load_report()
    progress = report.Progress("seeding", 3)
    progress.tick(2)
    progress.tick()
    progress.finish("done")
    assert progress.done == 3
