"""Themes of the week: what rose, by the log-odds ratio with an informative prior."""

from __future__ import annotations

import random

import pytest

from bot.themes import Said, rising_themes, terms

BACKGROUND = [
    "The export to CSV is slow", "Login with SSO fails on Safari", "Dark mode please",
    "Invoice total looks wrong", "Push notifications arrive twice", "Search misses old tickets",
    "The dashboard is slow to load", "Cannot change my avatar", "Password reset mail missing",
    "Report filters reset after reload",
]


def _weeks(rng: random.Random, extra: list[str], *, weeks: int, per_week: int,
           first_id: int) -> list[Said]:
    said = []
    for number in range(weeks * per_week):
        said.append(Said(first_id + number, rng.choice(BACKGROUND)))
    for offset, text in enumerate(extra):
        said.append(Said(first_id + weeks * per_week + offset, text))
    return said


def test_a_problem_many_customers_hit_this_week_is_the_first_theme() -> None:
    rng = random.Random(4)
    before = _weeks(rng, [], weeks=4, per_week=40, first_id=1)
    rising = [f"Apple Pay checkout fails for order {rng.randint(1000, 9999)}" for _ in range(8)]
    this_week = _weeks(rng, rising, weeks=1, per_week=40, first_id=1000)
    themes = rising_themes(this_week, before)
    assert themes, "a problem said eight times this week and never before must show"
    first = themes[0]
    assert first.term in {"apple pay", "pay checkout", "checkout fails", "apple", "checkout"}
    assert first.items == 8
    # Its two examples are the latest items that said it.
    assert first.examples == (1047, 1046)
    # One problem is one theme: the other words its items said come with it.
    assert len(themes) == 1 and "checkout fails" in first.also
    # The steady background never rises.
    assert all(theme.term not in {"slow", "dark mode", "invoice total"} for theme in themes)


@pytest.mark.parametrize("seed", range(8))
def test_a_week_like_the_weeks_before_has_no_themes(seed: int) -> None:
    rng = random.Random(seed)
    steady = "Webhook retries flood our endpoint"
    before = _weeks(rng, [steady] * 24, weeks=4, per_week=40, first_id=1)
    this_week = _weeks(rng, [steady] * 6, weeks=1, per_week=40, first_id=1000)
    assert rising_themes(this_week, before) == []


def test_ids_numbers_and_stop_words_never_make_a_theme() -> None:
    # The same build number and error code in every item: they rise, but are no themes.
    texts = [f"Invoice INV-{n} build 5.21 error 0x8007 for the customer, thanks! <@U0ALICE>"
             f" see https://example.com/t/{n}" for n in range(20)]
    this_week = [Said(number, text) for number, text in enumerate(texts)]
    before = _weeks(random.Random(6), [], weeks=4, per_week=40, first_id=100)
    themes = rising_themes(this_week, before, min_items=1)
    found = {term for theme in themes for term in (theme.term, *theme.also)}
    assert found, "invoice and build are words and rose"
    for term in found:
        assert not any(char.isdigit() for char in term), term
        assert not set(term.split()) & {"the", "for", "customer", "thanks", "see"}, term
        assert "example" not in term and "alice" not in term, term
    assert "invoice" in found or "invoice inv" in found


def test_a_term_needs_several_items_and_one_long_message_counts_once() -> None:
    loud = Said(1, " ".join(["outage"] * 50))
    this_week = [loud, Said(2, "Dark mode please"), Said(3, "Login fails")]
    assert rising_themes(this_week, [Said(10, "Dark mode please")] * 10) == []


def test_terms_fold_case_accents_and_apostrophes() -> None:
    found = terms("Zahlung FEHLGESCHLAGEN, café can’t open")
    assert {"zahlung", "fehlgeschlagen", "zahlung fehlgeschlagen", "cafe", "open"} <= found
    assert "can't" not in found and "can’t" not in found


def test_no_items_this_week_means_no_themes() -> None:
    assert rising_themes([], [Said(1, "Login fails")]) == []
