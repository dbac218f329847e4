"""The digest as Block Kit: what it shows, escaped, and always within Slack's limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from bot.config import Config
from bot.digest import DigestData, build_digest_data
from bot.suggestions import Reassignment
from handlers.slack.digest_blocks import digest_blocks, digest_text
from tests.fakes import make_item
from tests.test_digest import LOCAL_DATE, NOW, WINDOW_END, WINDOW_START, at, build, item

LINK_5 = "https://example.slack.com/archives/C0MOB/p1714939200000100"


def check_limits(blocks: list[dict[str, Any]]) -> None:
    """Fail on anything Slack would reject: counts and lengths of blocks, texts and fields."""
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        assert kind in {"header", "section", "context", "divider"}, kind
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        if kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(1 <= len(field["text"]) <= 2000 for field in fields)
        if kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(len(element["text"]) <= 3000 for element in block["elements"])


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text in the blocks, in order."""
    found: list[str] = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [field["text"] for field in block.get("fields", [])]
        found += [element["text"] for element in block.get("elements", [])]
    return found


def test_the_fixture_digest_within_limits_and_showing_everything():
    blocks = digest_blocks(build())
    check_limits(blocks)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "Feedback digest · Mon 6 May 2024"
    shown = "\n".join(texts(blocks))
    assert "Fri 3 May 09:00 → Mon 6 May 09:00 (Europe/Berlin)" in shown
    assert "posted late" not in shown
    # Headline against the previous 7 days.
    assert "*New*\n9 (3.0/day)  ↑ _prev. 7 days: 0.6/day_" in shown
    assert "*Median time to response*\n2h 15m  ↓ _prev. 7 days: 5h_" in shown
    # Where the time goes.
    assert "forwarding lag (support) median 20m" in shown
    assert "developer response median 1h 30m" in shown
    # Reassignments and suggestions.
    assert "2 of 9 new items reassigned (22%)" in shown
    assert "2 items with 'renewal' moved mobile → payments: add 'renewal' to payments?" in shown


def test_the_team_table_is_monospace_with_one_row_per_team():
    blocks = digest_blocks(build())
    table = next(t for t in texts(blocks) if t.startswith("```"))
    assert table.endswith("```")
    rows = {line.split()[0]: line.split() for line in table.strip("`").splitlines()}
    assert rows["payments"] == ["payments", "4", "2h", "30m", "10h", "10m", "2h", "2", "2"]
    assert rows["mobile"] == ["mobile", "3", "2h", "2h", "1h", "1h", "2", "2"]
    assert rows["triage"] == ["triage", "2", "—", "—", "—", "—", "1", "2"]
    assert rows["all"][:2] == ["all", "9"]


def test_the_five_longest_waiting_in_order_with_link_owner_and_age():
    blocks = digest_blocks(build())
    waiting = next(t for t in texts(blocks) if t.startswith("*Still waiting"))
    assert waiting.startswith("*Still waiting: 6* (4 overdue)")
    refs = [
        line.split(" · ")[0]
        for line in waiting.splitlines()
        if line.startswith("*#") or line.startswith("*<")
    ]
    assert refs == ["*#7*", "*#11*", "*#10*", f"*<{LINK_5}|#5>*", "*#6*"]
    assert "*#7* · *payments* · waited 3d 21h :red_circle: overdue · unassigned" in waiting
    assert "· assigned to 2 people" in waiting
    assert "_…and 1 more._" in waiting
    # Nobody is pinged by a digest.
    assert "<@" not in all_text(blocks).replace("&lt;@", "")


def test_customer_text_is_escaped():
    shown = "\n".join(texts(digest_blocks(build())))
    assert "Hi &lt;!channel&gt; &amp; &lt;@U0BOSS&gt;" in shown
    assert "<!channel>" not in shown


def test_late_digest_is_marked():
    late = digest_blocks(build(late=True))
    assert late[1]["type"] == "context"
    assert ":hourglass: posted late" in late[1]["elements"][0]["text"]
    assert "(posted late)" in digest_text(build(late=True))
    assert "posted late" not in all_text(digest_blocks(build(late=False)))


def test_fallback_text_is_short_and_summarises():
    text = digest_text(build())
    assert text == (
        "Feedback digest for Mon 6 May 2024: 9 new, median time to response 2h 15m,"
        " 6 waiting (4 overdue)."
    )


def test_nothing_waiting_and_no_suggestions():
    config = Config.model_validate(
        {
            "teams": {"payments": {"channel": "C0PAY", "owners": ["U0A"]}},
            "digests": [{"channel": "C0M", "at": "09:00"}],
        }
    )
    data = build_digest_data(
        items=[item(1, "payments", at(5, 4, 9), at(5, 4, 9), at(5, 4, 10))],
        reassignments=[],
        config=config,
        subscription=config.digests[0],
        index=0,
        local_date=LOCAL_DATE,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        now=NOW,
    )
    blocks = digest_blocks(data)
    check_limits(blocks)
    shown = "\n".join(texts(blocks))
    assert "*Still waiting:* nothing." in shown
    assert "suggest-rules" not in shown
    table = next(t for t in texts(blocks) if t.startswith("```"))
    assert "all" not in table.split()  # one team: no total row


def huge_digest(teams: int, *, text_length: int = 10_000) -> DigestData:
    """Many teams, each with long `<!channel>` texts waiting and answered, and moves."""
    names = [f"team-with-a-long-name-{n:02d}" for n in range(teams)]
    config = Config.model_validate(
        {
            "teams": {
                name: {"channel": f"C{n:04d}", "owners": ["U0A"]} for n, name in enumerate(names)
            },
            "digests": [{"channel": "C0M", "at": "09:00", "timezone": "Europe/Berlin"}],
        }
    )
    body = ("<!channel> & <@U0BOSS> " * (text_length // 23 + 1))[:text_length]
    items = []
    for n, name in enumerate(names):
        for k in range(3):
            received = at(5, 3, 8) + timedelta(hours=n + k)
            answered = received + timedelta(hours=k + 1) if k else None
            items.append(
                make_item(
                    id=n * 10 + k,
                    team=name,
                    text=f"word{k} {body}",
                    received_at=received,
                    forwarded_at=received,
                    first_response_at=answered,
                    reassignments=1,
                )
            )
    moves = [Reassignment(item=it, from_team=names[0], to_team=names[1]) for it in items[:20]]
    return build_digest_data(
        items=items,
        reassignments=moves,
        config=config,
        subscription=config.digests[0],
        index=0,
        local_date=LOCAL_DATE,
        window_start=WINDOW_START,
        window_end=WINDOW_END,
        now=NOW,
        late=True,
        links={it.id: f"https://x.slack.com/p{it.id}?a=1&b=2" for it in items},
    )


def test_forty_teams_and_ten_thousand_character_texts_stay_within_limits():
    data = huge_digest(40)
    blocks = digest_blocks(data)
    check_limits(blocks)
    dumped = all_text(blocks)
    assert "<!channel>" not in dumped
    assert "&lt;!channel&gt;" in dumped
    tables = [t for t in texts(blocks) if t.startswith("```")]
    assert len(tables) >= 2  # 40 rows do not fit one section
    rows = [line.split()[0] for t in tables for line in t.strip("`").splitlines()[1:]]
    assert len(rows) == 41  # every team, then the total
    waiting = next(t for t in texts(blocks) if t.startswith("*Still waiting"))
    snippets = [line for line in waiting.splitlines() if line.startswith("&gt; ")]
    assert len(snippets) == 5
    assert all(len(line) <= 2 + 5 + 100 for line in snippets)
    assert "<https://x.slack.com/p0?a=1&amp;b=2|#0>" in waiting


def test_even_hundreds_of_teams_keep_to_fifty_blocks():
    blocks = digest_blocks(huge_digest(400, text_length=50))
    check_limits(blocks)
    assert "more rows" in all_text(blocks)
