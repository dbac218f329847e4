"""Playing the demo's script on a simulated clock, against any platform's stand-in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bot.demo.clock import SimulatedClock
from bot.demo.script import Digest, Forward, Respond, Says, Step


class Stage(Protocol):
    """A platform's stand-in acting out steps against the real bot, and narrating them.

    Each call happens with the clock already at the step's time; it returns once the bot
    has done everything the step caused.
    """

    async def says(self, step: Says) -> None: ...

    async def forward(self, step: Forward) -> None: ...

    async def respond(self, step: Respond) -> None: ...

    async def digest(self, step: Digest) -> None: ...


async def play(script: Iterable[Step], *, stage: Stage, clock: SimulatedClock) -> None:
    """Move the clock to each step's time and have the stage act it out, in order.

    Raises ValueError when a step is earlier than the one before it.
    """
    for step in script:
        clock.advance_to(step.at)
        if isinstance(step, Says):
            await stage.says(step)
        elif isinstance(step, Forward):
            await stage.forward(step)
        elif isinstance(step, Respond):
            await stage.respond(step)
        else:
            await stage.digest(step)
