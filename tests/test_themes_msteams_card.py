"""The Teams digest card's themes of the week: linked examples, escaped, capped."""

from __future__ import annotations

import dataclasses
import json

from bot.digest_themes import TeamThemes
from bot.themes import Theme
from handlers.msteams.cards import CARD_BYTE_LIMIT, card_size
from handlers.msteams.digest_card import digest_card
from tests.msteams_world import CHANNEL, DIGESTS, WORKSPACE, card_item
from tests.test_digest import build
from tests.test_msteams_digest_card import _texts
from tests.test_msteams_port import teams  # noqa: F401  (the fixture)

CARD_LINK = "https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/1714900000000"


def _themes_text(card: dict) -> str:
    (text,) = [text for text in _texts(card) if "Themes of the week" in text]
    return text


def test_the_card_lists_each_teams_rising_themes_with_linked_examples():
    themes = (TeamThemes(team="pay_ments", themes=(
        Theme(term="apple pay", items=6, score=3.1, examples=(12, 11)),
        Theme(term="can't [x](y)", items=3, score=2.6, examples=(9,)))),)
    data = dataclasses.replace(build(), themes=themes,
                               links={12: CARD_LINK, 11: "http://plain.example/11"})
    text = _themes_text(digest_card(data))
    lines = text.splitlines()
    assert lines[0] == "**Themes of the week** (what rose most against the four weeks before)"
    # An https card link becomes a link; anything else stays a plain number.
    assert lines[1] == f"- **pay\\_ments**: “apple pay” in 6 items · [#12]({CARD_LINK}), #11"
    # Words from customers are escaped, never markdown.
    assert lines[2] == "- **pay\\_ments**: “can't \\[x\\]\\(y\\)” in 3 items · #9"


def test_a_week_with_no_rising_theme_says_so_and_other_runs_show_no_section():
    card = digest_card(dataclasses.replace(build(), themes=()))
    assert _themes_text(card).endswith("\nNo theme rose this week.")
    assert not any("Themes of the week" in text for text in _texts(digest_card(build())))


def test_many_teams_themes_are_capped_to_keep_the_card_within_its_size():
    themes = tuple(TeamThemes(team=f"team-{n:02d}", themes=tuple(
        Theme(term=f"word{k} thing", items=5, score=3.0, examples=(1000 + k, 900 + k))
        for k in range(5))) for n in range(20))
    links = {item_id: f"{CARD_LINK}{item_id}" for item_id in [*range(1000, 1005),
                                                             *range(900, 905)]}
    card = digest_card(dataclasses.replace(build(), themes=themes, links=links))
    lines = _themes_text(card).splitlines()
    assert len(lines) == 1 + 30 and lines[-1] == "_…and 71 more themes._"
    assert card_size(card) <= CARD_BYTE_LIMIT
    assert "<" not in json.dumps(lines)


async def test_the_teams_port_links_theme_examples_to_their_cards(teams):  # noqa: F811
    # Ids the fixture's digest doesn't use: an id it lists as waiting is that item.
    examples = {item_id: card_item(id=item_id, card_channel=CHANNEL,
                                   card_ts=f"17149000000{item_id}") for item_id in (112, 111)}
    themes = (TeamThemes(team="mobile", themes=(
        Theme(term="apple pay", items=6, score=3.1, examples=(112, 111)),)),)
    data = dataclasses.replace(build(), themes=themes, theme_examples=examples)
    await teams.port.post_digest(workspace=WORKSPACE, data=data, chart_png=b"",
                                 outbox_key="d:1", existing=None, conversation=DIGESTS)
    (send,) = teams.fake.calls_to("send_to_conversation")
    text = _themes_text(send.body["attachments"][0]["content"])
    line = text.splitlines()[1]
    assert line.startswith("- **mobile**: “apple pay” in 6 items · [#112](https://"), line
    assert "17149000000112" in line and "17149000000111" in line
    assert "[#111](https://" in line
