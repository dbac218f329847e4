"""The matcher: scores, the offer, and the words it compares (no chat SDK)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.similar import THRESHOLD, SimilarItems, SimilarMatch, similarity
from bot.similar_text import MAX_TERMS, is_request, query_terms, words
from bot.store import Store
from tests.fakes import DEFAULT_START
from tests.store_backends import create

NOW = DEFAULT_START


def matcher(store: Store) -> SimilarItems:
    return SimilarItems(store, clock=lambda: NOW)


def test_a_paraphrase_is_offered_with_what_the_card_needs(fresh_store: Store) -> None:
    item = create(fresh_store, text="iOS app crashes right after login", team="mobile",
                  status="responded", customer="globex", first_response_by="U0CAROL")
    create(fresh_store, text="Refund never arrived for the cancelled order", team="payments")

    match = matcher(fresh_store).best_match(
        workspace="T0WORK", text="ios app crashes straight after loging in since the update",
        team="mobile")

    assert match is not None and match.score >= THRESHOLD
    assert match == SimilarMatch(item_id=item.id, team="mobile", status="responded",
                                 customers=1, score=match.score, acknowledged_by="U0CAROL")


def test_nothing_is_offered_for_another_problem_in_the_same_words(fresh_store: Store) -> None:
    create(fresh_store, text="Push notifications arrive twice", team="notifications")
    found = matcher(fresh_store)

    assert found.best_match(workspace="T0WORK", text="can the push notification sound be changed?",
                            team="notifications") is None
    assert found.best_match(workspace="T0WORK", text="dark mode text unreadable",
                            team="notifications") is None
    assert found.best_match(workspace="T0WORK", text="", team="notifications") is None


def test_a_customers_name_in_both_texts_does_not_make_them_the_same(
        fresh_store: Store) -> None:
    item = create(fresh_store, text="Globex: the iOS app crashes on login since 5.2",
                  team="mobile", customer="globex")
    found = matcher(fresh_store)

    # The same customer, another problem: their name is who, not what.
    assert found.best_match(workspace="T0WORK", team="mobile",
                            text="Globex reports the Android app logs them out hourly") is None
    # Another customer, the same problem: still offered.
    match = found.best_match(workspace="T0WORK", team="mobile",
                             text="Initech: the iOS app crashes at login since 5.2")
    assert match is not None and match.item_id == item.id


def test_an_item_of_another_team_scores_lower(fresh_store: Store) -> None:
    create(fresh_store, text="export of 12 months never finishes, ends in timeout error",
           team="exports")
    text = "the yearly export always times out, smaller date ranges are fine"
    found = matcher(fresh_store)

    same = found.candidates(workspace="T0WORK", text=text, team="exports")[0].score
    unknown = found.candidates(workspace="T0WORK", text=text)[0].score
    other = found.candidates(workspace="T0WORK", text=text, team="payments")[0].score

    assert same > unknown > other


def test_an_item_resolved_long_ago_is_not_offered(fresh_store: Store) -> None:
    create(fresh_store, text="Push notifications arrive twice", team="notifications",
           status="resolved", resolved_at=NOW - timedelta(days=120))

    assert matcher(fresh_store).best_match(workspace="T0WORK", text="push notifications arrive"
                                           " twice on android", team="notifications") is None


def test_similarity_forgives_typos_and_is_symmetric() -> None:
    one, two = "password reset email never arrives", "pasword reset emial never arives"

    assert similarity(one, two) == similarity(two, one) > 0.8
    assert similarity(one, one) == 1.0
    assert similarity("", one) == similarity("", "") == 0.0


def test_synonyms_and_phrases_meet() -> None:
    assert similarity("iPhone app crashes after sign in", "iOS app crashes after login") == 1.0
    assert similarity("we were double charged", "they were charged twice") == 1.0


@pytest.mark.parametrize(("text", "asks"), [
    ("Can they change the app language?", True),
    ("how do I export my data", True),
    ("feature request: dark mode", True),
    ("Customer asks whether checkout can accept PayPal", True),
    ("can't install the latest update", False),
    ("Does not load after the update", False),
    ("Push notifications arrive twice", False),
])
def test_questions_and_requests_are_told_from_faults(text: str, asks: bool) -> None:
    assert is_request(text) is asks


def test_query_terms_are_plain_words_without_ids_or_filler() -> None:
    terms = query_terms("Hi! Customer says invoice INV-20391 for order 123456 shows wrong VAT:"
                        ' "NEAR" text:* \u00e9t\u00e9')

    flat = [word for group in terms for word in group]
    assert all(word.isalnum() for word in flat)
    assert "20391" not in flat and "123456" not in flat and "customer" not in flat
    assert "vat" in flat and "été" in flat
    assert ("incorrect", "invalid", "wrong") in terms  # a word brings its synonyms
    assert len(query_terms(" ".join(f"word{n}x" for n in range(100)))) == MAX_TERMS
    assert words("log in fails") == ["login", "fails"]
