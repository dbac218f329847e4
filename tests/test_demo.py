"""`feedbackbot demo`: the neutral script played on a simulated clock against the Slack stand-in.

The demo runs once per module, as a user runs it (`feedbackbot demo --db ...`), and the
tests read its transcript and the database it keeps.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.demo.clock import SimulatedClock
from bot.demo.play import play
from bot.demo.script import SCRIPT, Digest, Forward, Respond, Says, at, clock_face
from storage import open_store


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The demo's transcript and the database it kept."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--db", str(db)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, db


def _flat(text: str) -> str:
    # The digest's tables pad and wrap; compare words with single spaces.
    return " ".join(text.split())


def test_demo_plays_every_intake_path_and_ends_with_a_table(demo_run):
    out, db = demo_run
    assert "card in #payments-dev" in out and "card in #mobile-dev" in out
    assert "card in #triage" in out
    assert "ignored" in out and "nothing new" in out
    assert "is on feedback #1" in out and "replied about feedback #2" in out
    assert "Not yours" in out and "was resolved by alice" in out
    assert "marked as moved" in out
    assert "Per team" in out
    store = open_store(f"sqlite:///{db}")
    kinds = {item.intake_kind for item in store.list_items()}
    store.close()
    assert kinds == {"reaction", "channel", "command", "shortcut"}


def test_the_transcript_shows_each_step_at_its_scripted_time(demo_run):
    out, _ = demo_run
    shown = [line[:5] for line in out.splitlines() if line[:5].replace(":", "").isdigit()]
    assert shown == [clock_face(step.at) for step in SCRIPT]


def test_cards_say_how_long_the_customer_waited_in_story_time(demo_run):
    # A reply at 11:02 to a message posted at 09:31 used to say "0s".
    out, _ = demo_run
    assert "@carol replied 1h31m after the customer spoke" in out  # 09:31 → 11:02
    assert "@alice acknowledged 1h50m after the customer spoke" in out  # 09:05 → 10:55
    assert "@bob acknowledged with an emoji 1h34m after" in out  # 10:11 → 11:45
    assert "@erin replied 2h25m after the customer spoke" in out  # 09:40 → 12:05
    assert "Resolved 2026-03-10 11:30 UTC by @alice" in out  # 12:30 in Berlin


def test_the_digest_figures_are_the_storys(demo_run):
    # Worked out by hand from the script (customer spoke → forwarded → first response):
    #   #1 payments 09:05 → 09:12 → 10:55   wait 1h50m, lag 7m,  developer 1h43m
    #   #2 mobile   09:31 → 09:31 → 11:02   wait 1h31m, lag 0m,  developer 1h31m
    #   #3 payments 09:48 → 09:48 → -       still waiting at 17:00: 7h12m
    #   #4 mobile   09:40 → 10:20 → 12:05   wait 2h25m, lag 40m, developer 1h45m
    #   #5 payments 10:11 → 10:41 → 11:45   wait 1h34m, lag 30m, developer 1h04m
    #   #6 mobile   12:40 → 12:40 → 12:41   a +1 of #2, answered already: wait 1m
    # A median of an even count is the mean of the middle two; p90 is the
    # ceil(0.9 n)-th smallest. Means of whole minutes are shown rounded down.
    out = _flat(demo_run[0])
    assert "Median time to response 1h 34m" in out  # 1m, 1h31m, [1h34m], 1h50m, 2h25m
    assert "p90 time to response 2h 25m" in out
    assert "Waiting now 1 (0 overdue)" in out
    assert ("forwarding lag (support) median 7m, p90 40m · developer response median"
            " 1h 31m, p90 1h 45m") in out
    #       team   new median  p90    lag  dev    breaches waiting
    assert "payments 3 1h 42m 1h 50m 18m 1h 23m 0 1" in out
    assert "mobile 3 1h 31m 2h 25m 0m 1h 31m 0 0" in out
    assert "all 6 1h 34m 2h 25m 7m 1h 31m 0 1" in out
    assert "#3 payments 7h 12m" in out
    # The demo's own per-team table measures the same way.
    assert "payments 3 2 1 1h 42m 18m" in out
    assert "mobile 3 3 0 1h 31m 0m" in out
    # Sam's +1: offered, taken, and the digest's most asked item.
    assert "Looks like #2 (mobile, 1 customer: globex, acknowledged by carol)" in out
    assert "Feedback #6 was added to #2 (mobile) as a +1: 2 customers" in out
    assert "#2 mobile: 2 customers (+1 this period)" in out


def test_the_digest_shows_the_theme_that_rose(demo_run):
    # The month before had no login trouble; five items of its last week and the
    # story's #2 and #6 ("crashes on/at login") had, so the first digest of the week shows it.
    out = _flat(demo_run[0])
    assert "Themes of the week" in out
    assert "mobile: “login” in 7 items" in out


def test_the_stored_times_are_the_scripts(demo_run):
    _, db = demo_run
    store = open_store(f"sqlite:///{db}")
    try:
        items = {item.id: item for item in store.list_items()}
    finally:
        store.close()
    story = {number: item for number, item in items.items() if item.forwarded_at >= at("00:00")}
    month = [item for item in items.values() if item.forwarded_at < at("00:00")]
    assert month and all(item.status == "resolved" and item.first_response_at
                         for item in month)
    times = {number: (item.received_at, item.forwarded_at, item.first_response_at)
             for number, item in story.items()}
    assert times == {
        1: (at("09:05"), at("09:12"), at("10:55")),
        2: (at("09:31"), at("09:31"), at("11:02")),
        3: (at("09:48"), at("09:48"), None),
        4: (at("09:40"), at("10:20"), at("12:05")),
        5: (at("10:11"), at("10:41"), at("11:45")),
        6: (at("12:40"), at("12:40"), at("12:41")),  # a +1 of #2, answered when linked
    }
    assert (items[6].linked_to, items[6].card_ts) == (2, None)


# --- the neutral parts, without any platform ---------------------------------------------


def test_the_clock_moves_only_forward_and_only_when_told():
    start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    clock = SimulatedClock(start)
    assert clock.now() == start
    clock.advance(timedelta(minutes=5))
    assert clock.now() == start + timedelta(minutes=5)
    with pytest.raises(ValueError):
        clock.advance_to(start)
    with pytest.raises(ValueError):
        SimulatedClock(datetime(2026, 3, 10, 8, 0))


class RecordingStage:
    """A stage that notes what the clock said when each step reached it."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, datetime]] = []

    async def says(self, step: Says) -> None:
        self.seen.append(("says", self.clock.now()))

    async def forward(self, step: Forward) -> None:
        self.seen.append(("forward", self.clock.now()))

    async def respond(self, step: Respond) -> None:
        self.seen.append(("respond", self.clock.now()))

    async def digest(self, step: Digest) -> None:
        self.seen.append(("digest", self.clock.now()))


async def test_playing_the_script_sets_the_clock_to_each_steps_time():
    clock = SimulatedClock(at("08:00"))
    stage = RecordingStage(clock)
    await play(SCRIPT, stage=stage, clock=clock)
    assert [moment for _, moment in stage.seen] == [step.at for step in SCRIPT]
    assert [kind for kind, _ in stage.seen] == [type(step).__name__.lower() for step in SCRIPT]


async def test_a_script_that_goes_back_in_time_is_refused():
    clock = SimulatedClock(at("08:00"))
    backwards = (Digest(at("10:00")), Digest(at("09:00")))
    with pytest.raises(ValueError):
        await play(backwards, stage=RecordingStage(clock), clock=clock)


def test_the_demo_closes_the_loop_with_the_customer(demo_run):
    out, db = demo_run
    flat = _flat(out)
    # Sam answers Acme in the thread of their message; Priya clicks Told the customer.
    assert "recorded: the customer of feedback #1 heard back (thread)" in flat
    assert ("only @priya sees: :white_check_mark: Noted: the customer heard back about"
            " feedback #4.") in flat
    assert "The customer heard back 2h15m after they spoke." in flat  # 09:05 → 11:20
    assert "The whole loop: time until the customer heard back" in flat
    # Mobile also answered #6, the +1 of #2: nobody said its customer heard back.
    assert "• mobile: median 2h 35m, p90 2h 35m (1 item); 2 of 3 unknown" in flat
    store = open_store(f"sqlite:///{db}")
    try:
        items = {item.id: item for item in store.list_items()}
    finally:
        store.close()
    assert {number: (item.customer_answered_at, item.customer_answered_how)
            for number, item in items.items() if item.customer_answered_at} == {
        1: (at("11:20"), "thread"), 4: (at("12:15"), "button")}
