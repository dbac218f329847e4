"""Themes of the week over Slack's protocol: in the first digest of the week, linked."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from handlers.slack.standin.payloads import event_callback, message_event
from tests.fakes import FrozenClock
from tests.slack_harness import RunningBot, example_config, make_fake_slack, running_bot
from tests.store_backends import create

# Monday 2026-11-30 09:00 in Berlin: the example digest's first run of its week.
MONDAY_RUN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
BACKGROUND = ["billing page times out", "refund not received", "invoice shows the wrong VAT",
              "card declined at checkout", "charge appears twice", "receipt email is late"]


def _digest_posts(slack):
    return [call for call in slack.calls_to("chat.postMessage")
            if call.args.get("channel") == "C0MANAGERS"]


async def _forward(running: RunningBot, clock: FrozenClock, text: str) -> tuple[int, str, str]:
    """Post `text` in the intake channel now (the test's clock); return its item and card."""
    ts = f"{clock().timestamp():.6f}"
    await running.slack.send_event(event_callback(message_event(
        channel="C0INTAKE", user="U0SUPPORT", text=text, ts=ts)))
    await running.settle()
    (item,) = [item for item in running.store.list_items() if item.source_ts == ts]
    assert item.card_channel and item.card_ts, item
    return item.id, item.card_channel, item.card_ts


def _config():
    config = example_config()
    config.digests[0].themes = "weekly"
    # Every forward gets its own card: these tests count themes, not +1s.
    config.offer_hold_minutes = 0
    return config


async def test_the_first_digest_of_the_week_links_two_items_of_the_theme_that_rose(tmp_path):
    clock = FrozenClock(MONDAY_RUN - timedelta(days=5))
    async with (
        make_fake_slack() as slack,
        running_bot(slack, tmp_path / "b.db", clock=clock, config=_config()) as running,
    ):
        # Four weeks of ordinary payments feedback before this week, as the store holds it.
        rng = random.Random(3)
        for number in range(4 * 30):
            moment = MONDAY_RUN - timedelta(days=35) + timedelta(hours=5 * number + 1)
            create(running.store, workspace="T0DEMO", team="payments",
                   text=rng.choice(BACKGROUND), received_at=moment, forwarded_at=moment,
                   status="resolved", resolved_at=moment)
        # This week support forwards the same new problem six times, among ordinary ones.
        cards = []
        for number in range(6):
            cards.append(await _forward(
                running, clock, f"Apple Pay billing fails for order {4000 + number} <!channel>"))
            clock.advance(timedelta(hours=1))
            await _forward(running, clock, rng.choice(BACKGROUND))
            clock.advance(timedelta(hours=9))
        teams = {item.team for item in running.store.items_by_ids(
            workspace="T0DEMO", ids=[item_id for item_id, _, _ in cards])}
        assert teams == {"payments"}

        clock.advance(MONDAY_RUN - clock())
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        (post,) = _digest_posts(slack)
        blocks = post.args["blocks"]
        (themes,) = [block["text"]["text"] for block in blocks
                     if "Themes of the week" in block.get("text", {}).get("text", "")]
        # One problem, one line: the words its items said beside the first.
        (line,) = [line for line in themes.splitlines() if "in 6 items" in line]
        assert line.startswith("• *payments*: “apple pay” (also “"), themes
        # Its two examples are the latest two forwards, linked to their cards.
        for item_id, channel, card_ts in cards[-1:-3:-1]:
            link = f"archives/{channel}/p{card_ts.replace('.', '')}|#{item_id}>"
            assert link in line, themes
        # Order numbers and stop-words never make a theme; customer text stays inert.
        words = " ".join(re.findall(r"“([^”]*)”", themes))
        assert words and not any(char.isdigit() for char in words), themes
        assert not set(words.split()) & {"for", "the"}, themes
        assert "<!channel>" not in str(blocks)

        # Tuesday's digest is the second of the week: no themes section.
        clock.advance(timedelta(days=1))
        await running.bot.scheduler.tick()
        await running.settle(timeout=20)
        _, second = _digest_posts(slack)
        assert "Themes of the week" not in str(second.args["blocks"])
