"""The Teams item card: owners mentioned, customer words shown as typed, buttons that fit."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.models import Status
from handlers.msteams.cards import CARD_BYTE_LIMIT, Person, card_size, item_card
from tests.fakes import make_item

CAROL = Person("a1b2c3d4-0000-4000-8000-000000000001", "Carol Ng")
DAN = Person("a1b2c3d4-0000-4000-8000-000000000002", "Dan <b>Ops</b>")
TEAMS = ["payments", "mobile", "web"]


def _texts(element: object) -> list[str]:
    """Every text a reader sees: TextBlocks and fact values, in order."""
    found: list[str] = []
    if isinstance(element, dict):
        if element.get("type") == "TextBlock":
            found.append(element["text"])
        if "facts" in element:
            found += [f"{fact['title']}: {fact['value']}" for fact in element["facts"]]
        for value in element.values():
            if isinstance(value, (dict, list)):
                found += _texts(value)
    elif isinstance(element, list):
        for value in element:
            found += _texts(value)
    return found


def _actions(card: dict) -> dict[str, dict]:
    return {a.get("verb", a["type"]): a for a in card["actions"]}


def test_a_new_item_card_shows_who_what_where_and_the_four_buttons():
    item = make_item(id=42, team="payments", customer="acme", severity="urgent",
                     text="Refund never arrived", source_permalink="https://teams.example/m/1")
    card = item_card(item, owners=[CAROL, DAN], teams=TEAMS)
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.5")
    shown = "\n".join(_texts(card["body"]))
    assert "**Feedback #42** for **payments**" in shown
    assert "Customer: acme" in shown and "Severity: urgent" in shown
    assert "Refund never arrived" in shown
    assert "<at>Carol Ng</at> <at>Dan bOps/b</at>" in shown
    assert card["msteams"]["entities"] == [
        {"type": "mention", "text": "<at>Carol Ng</at>",
         "mentioned": {"id": CAROL.entra_id, "name": "Carol Ng"}},
        {"type": "mention", "text": "<at>Dan bOps/b</at>",
         "mentioned": {"id": DAN.entra_id, "name": "Dan <b>Ops</b>"}},
    ]
    actions = _actions(card)
    assert list(actions) == ["acknowledge", "resolve", "reassign", "follow", "Action.OpenUrl"]
    assert all(a["type"] == "Action.Execute" and a["data"] == {"item": 42}
               for verb, a in actions.items() if verb != "Action.OpenUrl")
    assert actions["Action.OpenUrl"]["url"] == "https://teams.example/m/1"
    inputs = {e["id"]: e for e in card["body"] if e["type"].startswith("Input.")}
    assert inputs["note"]["type"] == "Input.Text"
    assert [c["value"] for c in inputs["team"]["choices"]] == ["mobile", "web"]
    assert card["refresh"]["action"]["verb"] == "refreshCard"
    assert card["refresh"]["userIds"] == [CAROL.entra_id, DAN.entra_id]


def test_customer_text_cannot_make_links_mentions_or_markup():
    hostile = ("[Click to verify](https://evil.example) <at>Carol Ng</at> **urgent** "
               "<a href='https://evil.example'>x</a> ![img](https://evil.example/p.png) # Title")
    item = make_item(id=7, text=hostile, customer="[acme](https://evil.example)",
                     note="<at>Carol Ng</at>")
    card = item_card(item, owners=[CAROL], teams=TEAMS)
    shown = "\n".join(_texts(card["body"]))
    assert "](https://evil.example)" not in shown.replace("\\]\\(", "")
    assert "\\[Click to verify\\]\\(https://evil\\.example\\)" in shown
    # The only mention tag on the card is the real owner's, once.
    assert shown.count("<at>Carol Ng</at>") == 1
    assert "\\<at\\>Carol Ng\\</at\\>" in shown
    assert "\\*\\*urgent\\*\\*" in shown and "\\!\\[img\\]" in shown and "\\# Title" in shown
    assert card["msteams"]["entities"] == [
        {"type": "mention", "text": "<at>Carol Ng</at>",
         "mentioned": {"id": CAROL.entra_id, "name": "Carol Ng"}}]


def test_a_source_link_that_is_not_https_is_left_out():
    item = make_item(id=8, source_permalink="javascript:alert(1)")
    assert "Action.OpenUrl" not in _actions(item_card(item, teams=TEAMS))


def test_huge_text_is_shown_in_full_up_to_the_card_limit_then_cut_with_a_pointer():
    text = "é" * 10_000 + " middle " + "x" * 40_000
    item = make_item(id=9, text=text, source_permalink="https://teams.example/m/9")
    card = item_card(item, owners=[CAROL], teams=TEAMS)
    assert card_size(card) <= CARD_BYTE_LIMIT
    body = next(b["items"][0]["text"] for b in card["body"] if b["type"] == "Container")
    assert body.startswith("é" * 10_000 + " middle ")
    assert body.endswith("… (shortened: open the source message for the rest)")
    assert card_size(card) > CARD_BYTE_LIMIT - 200  # as much as fits, not a token amount
    short = item_card(make_item(id=10, text="y" * 5_000), teams=TEAMS)
    assert "y" * 5_000 in json.dumps(short)


def test_odd_unicode_is_sent_safely():
    text = "ok 🚀 مرحبا e\u0301 \u202eexe.txt \u0000\u0007 lone \ud800 end\nnext line"
    card = item_card(make_item(id=11, text=text), teams=TEAMS)
    encoded = json.dumps(card, ensure_ascii=False).encode("utf-8")  # no lone surrogate left
    body = next(b["items"][0]["text"] for b in card["body"] if b["type"] == "Container")
    assert body == "ok 🚀 مرحبا e\u0301 exe\\.txt  lone \ufffd end\nnext line"
    assert b"\\u0000" not in encoded


def test_an_acknowledged_item_drops_acknowledge_and_says_who_and_how_long():
    item = make_item(id=12, status=Status.RESPONDED.value, first_response_by=CAROL.entra_id,
                     first_response_kind="button")
    item.first_response_at = item.received_at + timedelta(hours=1, minutes=31)
    card = item_card(item, owners=[CAROL], teams=TEAMS, names={CAROL.entra_id: "Carol Ng"})
    assert "acknowledge" not in _actions(card)
    assert "✅ Carol Ng acknowledged 1h31m after the customer spoke." in _texts(card["body"])


def test_a_resolved_item_offers_reopen_and_follow_and_shows_the_escaped_note():
    item = make_item(id=13, status=Status.RESOLVED.value, resolved_by=CAROL.entra_id,
                     resolution_note="fixed in [v2](https://evil.example)")
    card = item_card(item, owners=[CAROL], teams=TEAMS, names={CAROL.entra_id: "Carol Ng"})
    assert list(_actions(card)) == ["reopen", "follow"]
    assert not [e for e in card["body"] if e["type"].startswith("Input.")]
    assert ("🏁 Resolved by Carol Ng: fixed in \\[v2\\]\\(https://evil\\.example\\)"
            in _texts(card["body"]))


def test_reassign_is_offered_only_when_there_is_another_team():
    card = item_card(make_item(id=14, team="payments"), teams=["payments"])
    assert "reassign" not in _actions(card)
    assert not [e for e in card["body"] if e.get("id") == "team"]
