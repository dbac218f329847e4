"""Learning routing keywords from reassignments, and the config diff that adds them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import Config, parse_config_text
from bot.models import Item
from bot.suggestions import Reassignment, Suggestion, config_diff, suggest_rules, words
from tests.fakes import make_item

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "feedbackbot.yml"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def apply_diff(text: str, diff: str) -> str:
    """Apply a unified diff to `text`, failing on any context line that does not match."""
    old = text.splitlines(keepends=True)
    new: list[str] = []
    lines = diff.splitlines(keepends=True)
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    position = 0
    for line in lines[2:]:
        hunk = _HUNK.match(line)
        if hunk:
            start = int(hunk.group(1)) - 1
            assert start >= position, "hunks out of order"
            new += old[position:start]
            position = start
        elif line.startswith((" ", "-")):
            assert old[position] == line[1:], f"context mismatch at line {position + 1}"
            if line.startswith(" "):
                new.append(old[position])
            position += 1
        elif line.startswith("+"):
            new.append(line[1:])
        else:
            raise AssertionError(f"unexpected diff line {line!r}")
    return "".join(new + old[position:])


def example() -> tuple[Config, str]:
    text = EXAMPLE.read_text()
    loaded = parse_config_text(text)
    assert loaded.config is not None, loaded.problems
    return loaded.config, text


def moves(
    texts: list[str], *, from_team: str, to_team: str, first_id: int = 1
) -> list[Reassignment]:
    items: list[Item] = [
        make_item(id=first_id + n, text=text, team=to_team) for n, text in enumerate(texts)
    ]
    return [Reassignment(item=it, from_team=from_team, to_team=to_team) for it in items]


def test_sentence_reads_like_the_issue():
    five = Suggestion("invoice", "mobile", "payments", 5, (1, 2, 3, 4, 5))
    assert five.sentence() == (
        "5 items with 'invoice' moved mobile → payments: add 'invoice' to payments?"
    )
    one = Suggestion("receipt", "triage", "payments", 1, (9,))
    assert one.sentence() == (
        "1 item with 'receipt' moved triage → payments: add 'receipt' to payments?"
    )


def test_words_are_casefolded_long_and_meaningful():
    assert words("The RECEIPT for order 12345 isn't in this PDF, über-Störung_x") == {
        "receipt",
        "order",
        "über",
        "störung",
    }


def test_a_keyword_shared_by_moved_items_is_suggested():
    config, _ = example()
    texts = [
        "Receipt email never came",
        "Where is my receipt?",
        "receipts are blank",
        "Receipts have the wrong VAT",
        "Need a receipt for March",
    ]
    found = suggest_rules(
        reassignments=moves(texts, from_team="mobile", to_team="payments"), config=config
    )
    assert found[0] == Suggestion("receipt", "mobile", "payments", 5, (1, 2, 3, 4, 5))
    assert found[0].sentence() == (
        "5 items with 'receipt' moved mobile → payments: add 'receipt' to payments?"
    )
    # "receipts" (2 items) is already matched by "receipt" at the word's start: left out.
    assert [s.keyword for s in found] == ["receipt"]


def test_min_count_is_respected():
    config, _ = example()
    reassignments = moves(
        ["Payout delayed", "payout missing", "Wire transfer"],
        from_team="mobile",
        to_team="payments",
    )
    assert [
        (s.keyword, s.count) for s in suggest_rules(reassignments=reassignments, config=config)
    ] == [("payout", 2)]
    assert suggest_rules(reassignments=reassignments, config=config, min_count=3) == []
    with_ones = suggest_rules(reassignments=reassignments, config=config, min_count=1)
    assert [(s.keyword, s.count) for s in with_ones] == [
        ("payout", 2),
        ("delayed", 1),
        ("missing", 1),
        ("transfer", 1),
        ("wire", 1),
    ]
    with pytest.raises(ValueError, match="min_count"):
        suggest_rules(reassignments=reassignments, config=config, min_count=0)


def test_keywords_any_team_already_has_are_not_suggested():
    config, _ = example()
    texts = [
        "Invoices missing on Android",  # invoice (payments), android (mobile)
        "invoice crashes the app",  # crash, app (mobile)
        "Application crash with acme invoices",  # app…, crash (mobile), acme (a customer)
    ]
    found = suggest_rules(
        reassignments=moves(texts, from_team="mobile", to_team="payments"),
        config=config,
        min_count=2,
    )
    assert found == []


def test_stopwords_numbers_and_short_words_are_never_suggested():
    config, _ = example()
    texts = ["This customer says 2024 tax is off", "this customer says 2024 tax is off"]
    assert (
        suggest_rules(
            reassignments=moves(texts, from_team="mobile", to_team="payments"), config=config
        )
        == []
    )


def test_most_items_first_then_alphabetical_then_limited():
    config, _ = example()
    reassignments = moves(
        ["zebra yak", "zebra yak", "zebra"], from_team="mobile", to_team="payments"
    )
    reassignments += moves(
        ["onboarding wizard", "onboarding wizard"],
        from_team="payments",
        to_team="triage",
        first_id=10,
    )
    found = suggest_rules(reassignments=reassignments, config=config)
    assert [(s.keyword, s.count, s.to_team) for s in found] == [
        ("zebra", 3, "payments"),
        ("onboarding", 2, "triage"),
        ("wizard", 2, "triage"),
    ]
    assert [
        s.keyword for s in suggest_rules(reassignments=reassignments, config=config, limit=2)
    ] == ["zebra", "onboarding"]


def test_an_item_moved_twice_the_same_way_counts_once_and_unknown_teams_are_skipped():
    config, _ = example()
    one = moves(["Ledger export broken"], from_team="mobile", to_team="payments")
    assert suggest_rules(reassignments=one + one, config=config) == []
    gone = moves(["ledger", "ledger"], from_team="mobile", to_team="retired")
    assert suggest_rules(reassignments=gone, config=config) == []


def test_config_diff_adds_the_keyword_and_applies_cleanly():
    config, text = example()
    suggestion = Suggestion("receipt", "mobile", "payments", 5, (1, 2, 3, 4, 5))
    diff = config_diff([suggestion], config_text=text)
    assert diff.startswith("--- feedbackbot.yml\n+++ feedbackbot.yml\n@@ ")
    removed = [line for line in diff.splitlines() if line.startswith("-") and line[:3] != "---"]
    added = [line for line in diff.splitlines() if line.startswith("+") and line[:3] != "+++"]
    assert len(removed) == len(added) == 1
    assert removed[0].startswith("-    keywords: [refund, invoice, billing, charge]")
    assert added[0].startswith("+    keywords: [refund, invoice, billing, charge, receipt]")
    patched = apply_diff(text, diff)
    # Comments survive the round trip.
    assert "# match at a word's start, any case" in patched
    assert "# Gets whatever no team's customers" in patched
    loaded = parse_config_text(patched)
    assert loaded.config is not None, loaded.problems
    assert loaded.config.teams["payments"].keywords == [
        "refund",
        "invoice",
        "billing",
        "charge",
        "receipt",
    ]
    assert loaded.config.model_dump(exclude={"teams"}) == config.model_dump(exclude={"teams"})


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch tool")
def test_config_diff_applies_with_the_patch_tool(tmp_path: Path):
    _, text = example()
    (tmp_path / "feedbackbot.yml").write_text(text)
    diff = config_diff([Suggestion("receipt", "mobile", "payments", 2, (1, 2))], config_text=text)
    subprocess.run(["patch", "-p0", "--quiet"], input=diff, text=True, cwd=tmp_path, check=True)
    assert (tmp_path / "feedbackbot.yml").read_text() == apply_diff(text, diff)
    assert "charge, receipt]" in (tmp_path / "feedbackbot.yml").read_text()


def test_config_diff_creates_a_missing_keywords_list_and_names_the_path():
    _, text = example()
    diff = config_diff(
        [Suggestion("onboarding", "payments", "triage", 2, (10, 11))],
        config_text=text,
        path="deploy/feedbackbot.yml",
    )
    assert diff.splitlines()[:2] == ["--- deploy/feedbackbot.yml", "+++ deploy/feedbackbot.yml"]
    added = [line for line in diff.splitlines() if line.startswith("+") and line[:3] != "+++"]
    assert added == ["+    keywords: [onboarding]"]
    loaded = parse_config_text(apply_diff(text, diff))
    assert loaded.config is not None and loaded.config.teams["triage"].keywords == ["onboarding"]


def test_config_diff_keeps_block_style_lists_and_dash_offsets():
    text = (
        "teams:\n"
        "  payments:\n"
        "    channel: C0PAY\n"
        "    owners: [U0ALICE]\n"
        "    keywords:   # what payments owns\n"
        "    - refund\n"
        "    - invoice\n"
        "digests:\n"
        "- channel: C0MGR\n"
        '  at: "09:00"\n'
    )
    diff = config_diff([Suggestion("payout", "x", "payments", 2, (1, 2))], config_text=text)
    added = [line for line in diff.splitlines() if line.startswith("+") and line[:3] != "+++"]
    assert added == ["+    - payout"]
    patched = apply_diff(text, diff)
    assert patched == text.replace("    - invoice\n", "    - invoice\n    - payout\n")


def test_config_diff_is_empty_when_there_is_nothing_to_add():
    _, text = example()
    assert config_diff([], config_text=text) == ""
    present = Suggestion("Invoice", "mobile", "payments", 2, (1, 2))
    assert config_diff([present], config_text=text) == ""
    unknown = Suggestion("ledger", "mobile", "retired", 2, (1, 2))
    assert config_diff([unknown], config_text=text) == ""


def test_the_same_keyword_twice_is_added_once():
    _, text = example()
    twice = [
        Suggestion("receipt", "mobile", "payments", 3, (1, 2, 3)),
        Suggestion("receipt", "triage", "payments", 2, (4, 5)),
    ]
    patched = apply_diff(text, config_diff(twice, config_text=text))
    assert patched.count("receipt") == 1
