"""`feedbackbot digest --post`: claim each current period, deliver it, and say what happened.

A period claimed by an earlier run whose post never went out (the run was killed, or
Slack was down) is delivered from here too, and is never reported as posted until Slack
has it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.store import OutboxEntry

if TYPE_CHECKING:
    from bot.runtime import Runtime

DEFAULT_WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class Posting:
    """One digest period this run is answerable for, and the outbox entry that posts it."""

    where: str
    entry_id: int
    forced: bool
    claimed_now: bool


async def post_digests(bot: Runtime, *, force: bool,
                       wait: float = DEFAULT_WAIT_SECONDS) -> int:
    """Post each subscription's current digest; return the command's exit code.

    `bot` has its platforms plugged in and is not started. Exit 0 when every digest is
    on its platform (now or before), 1 when one is still queued or could not be posted.
    """
    for adapter in bot.adapters.values():
        try:
            await adapter.connect_once()
        except ConnectionError as error:
            print(f"feedbackbot: {error}. Nothing was posted.", file=sys.stderr)
            return 1
    # A run killed mid-post leaves its lease behind; its post's fate is looked up
    # on the platform before anything is sent again.
    bot.outbox.release_dead_leases()
    postings = _postings(bot, force=force)
    if not postings:
        print("Nothing to post: today is not a digest day for any subscription.")
        return 0
    before = {posting.entry_id: bot.store.outbox_get(posting.entry_id)
              for posting in postings}
    delivered_here: set[int] = set()
    if any(entry is not None and entry.status == "pending" for entry in before.values()):
        bot.store.outbox_retry_now(now=bot.clock())
    after = await _deliver(bot, [posting.entry_id for posting in postings], wait=wait,
                           delivered_here=delivered_here)
    return _report(postings, before, after, delivered_here=delivered_here)


def _postings(bot: Runtime, *, force: bool) -> list[Posting]:
    """Claim what is unclaimed, in every workspace served; add the periods claimed earlier."""
    workspaces = bot.workspaces() if bot.many_workspaces else [bot.workspace or ""]
    return [posting for workspace in workspaces
            for posting in _postings_of(bot, workspace, force=force)]


def _postings_of(bot: Runtime, workspace: str, *, force: bool) -> list[Posting]:
    """One workspace's: claim what is unclaimed; add the periods claimed earlier."""
    claimed = bot.digests.claim_current(workspace=workspace, force=force,
                                        serving=bot.platforms_of(workspace))
    postings = [Posting(where=_where(done.period.subscription.target, done.period.period),
                        entry_id=done.entry_id, forced=done.forced, claimed_now=True)
                for done in claimed]
    if force:
        return postings
    claimed_keys = {(done.period.key, done.period.period) for done in claimed}
    for period in bot.digests.current_periods(workspace):
        if period is None or (period.key, period.period) in claimed_keys:
            continue
        earlier = [entry for entry in bot.store.outbox_for_digest(
            workspace=workspace, subscription=period.key, period=period.period)
            if not entry.payload.get("forced")]
        if earlier:
            postings.append(Posting(where=_where(period.subscription.target, period.period),
                                    entry_id=earlier[0].id, forced=False, claimed_now=False))
    return postings


async def _deliver(bot: Runtime, entry_ids: list[int], *, wait: float,
                   delivered_here: set[int]) -> dict[int, OutboxEntry | None]:
    """Drain the outbox until these entries are settled or `wait` seconds have passed.

    Adds to `delivered_here` the entries this process delivered (not another run).
    """
    import asyncio

    deadline = time.monotonic() + wait
    while True:
        await bot.outbox.drain_once(delivered_ids=delivered_here)
        entries = {entry_id: bot.store.outbox_get(entry_id) for entry_id in entry_ids}
        settled = all(entry is None or entry.status != "pending" for entry in entries.values())
        if settled or time.monotonic() >= deadline:
            return entries
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def _report(postings: list[Posting], before: dict[int, OutboxEntry | None],
            after: dict[int, OutboxEntry | None], *, delivered_here: set[int]) -> int:
    """Print one line per digest, in words that match what Slack has; return the exit code."""
    unfinished = 0
    for posting in postings:
        entry = after.get(posting.entry_id)
        earlier = before.get(posting.entry_id)
        was_pending = earlier is not None and earlier.status == "pending"
        note = " (forced)" if posting.forced else ""
        status = entry.status if entry is not None else "missing"
        here = posting.entry_id in delivered_here
        if status == "sent" and posting.claimed_now and here:
            print(f"Posted the digest for {posting.where}{note}.")
        elif status == "sent" and posting.claimed_now:
            # Another run started at the same moment took this run's claim and sent it.
            print(f"The digest for {posting.where}{note} is posted: another run sent it at"
                  " the same moment.")
        elif status == "sent" and was_pending and not here:
            print(f"Nothing to post for {posting.where}: another run has just posted it.")
        elif status == "sent" and was_pending:
            print(f"Posted the digest for {posting.where}, which an earlier run had queued"
                  " but not delivered.")
        elif status == "sent":
            print(f"Nothing to post for {posting.where}: it was already posted for this"
                  " period. Use --force to post it again.")
        elif status == "pending" and entry is not None:
            unfinished += 1
            print(f"The digest for {posting.where} is queued, not yet delivered"
                  f" ({entry.last_error or 'not tried yet'}). `feedbackbot serve` or the next"
                  " `feedbackbot digest --post` will deliver it.", file=sys.stderr)
        else:
            unfinished += 1
            reason = (entry.last_error if entry is not None else None) or status
            print(f"Could not post the digest for {posting.where}: {reason}. Fix that, then"
                  " run `feedbackbot digest --post --force`.", file=sys.stderr)
    return 1 if unfinished else 0


def _where(channel: str, period: str) -> str:
    return f"{channel}, {period}"
