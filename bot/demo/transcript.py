"""The demo's printed story: each step at its clock time, and what the bot did, indented."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.demo.script import CUSTOMER_PEOPLE, STAFF, clock_face


def who(person: str) -> str:
    """How the transcript introduces someone of the script: "@sam (support)"."""
    customer = CUSTOMER_PEOPLE.get(person)
    return f"the customer ({customer})" if customer else f"@{person} ({STAFF[person]})"


class Transcript:
    """Prints the demo's story as it happens."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def step(self, moment: datetime, text: str) -> None:
        """A step of the story, at its local clock time."""
        self.write(f"\n{clock_face(moment)}  {text[:1].upper()}{text[1:]}")

    def detail(self, text: str) -> None:
        """What followed from the step (indented under it)."""
        self.write(f"         {text}")
