"""How the core decides what is a person's: names, ids and words (bot/erasure.py)."""

from __future__ import annotations

import pytest

from bot.erasure import ERASED, Matcher, Person, fold, scrub


def test_names_compare_in_any_case_and_any_unicode_form():
    assert fold("ＡＣＭＥ\u200b Ltd ") == "acme ltd"
    assert fold("Ærø") == fold("æRØ")
    assert fold("Straße") == fold("STRASSE")
    assert fold("Cafe\u0301 Noir") == fold("CAFÉ NOIR")  # combining accent or not
    person = Person(customer="Ærø Shipping")
    assert person.is_customer("ærø shipping") and person.is_customer(" ÆRØ SHIPPING")
    assert not person.is_customer("Ærø") and not person.is_customer("Ærø Shipping Ltd")


@pytest.mark.parametrize("customer, user, problem", [
    (None, None, "not both or neither"),
    ("Acme", "U0ALICE", "not both or neither"),
    ("\u200b \u2060", None, "name is empty"),
    (None, "U0 ALICE", "not a chat user id"),
    (None, "<@U0ALICE>", "not a chat user id"),
])
def test_whom_to_forget_is_said_plainly(customer, user, problem):
    with pytest.raises(ValueError, match=problem):
        Person(customer=customer, user=user)


def test_a_user_id_matches_as_a_whole_token_only():
    matcher = Matcher(user_ids=["U0ALICE"])
    assert matcher.says("thanks <@U0ALICE>!") and matcher.says("U0ALICE")
    assert not matcher.says("U0ALICE2") and not matcher.says("XU0ALICE")


def test_a_customer_name_matches_a_whole_string_and_words_inside_longer_text():
    matcher = Matcher(names=["Acme"])
    matcher.add_words("the zanzibar invoice is doubled", "ok")
    assert matcher.says("ACME") and not matcher.says("Acme Inc")
    assert matcher.says("Re: The Zanzibar invoice is doubled, says Bob")
    assert matcher.says("OK") and not matcher.says("ok then")  # short words: whole only


def test_scrubbing_keeps_structure_and_erases_words():
    payload = {"kind": "relay", "user": "U0SUPPORT", "channel": "C1", "thread_ts": "1.2",
               "data": {"by": "U0ALICE", "text": "on it", "reply_ts": "3.4"}}
    assert scrub(payload) == {**payload, "user": ERASED,
                              "data": {"by": ERASED, "text": ERASED, "reply_ts": "3.4"}}
    matcher = Matcher(user_ids=["U0ALICE"])
    assert scrub(payload, matcher=matcher)["data"]["by"] == ERASED
    assert scrub(payload, matcher=matcher)["data"]["text"] == "on it"
