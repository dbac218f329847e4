"""Decide which team owns a piece of feedback. Pure: no I/O, no chat platform."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import Config, TeamConfig
from bot.safe_regex import CompiledPattern, compile_pattern


@dataclass(frozen=True)
class RouteDecision:
    """The owning team, and why it was chosen.

    `reason` is one of: chosen (picked in the modal), customer (the team owns the
    customer), keywords (most keyword and pattern matches), fallback, default (no
    fallback configured: the first team).
    """

    team: str
    reason: str
    matches: tuple[str, ...] = ()


def _word_start(term: str) -> re.Pattern[str]:
    # "refund" must match "Refunds" but not "prefund": anchor at a word's start only.
    return re.compile(rf"(?<!\w){re.escape(term)}", re.IGNORECASE)


class Router:
    """Routes text to a team by the precedence in the config's documentation."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._rules: list[tuple[str, list[tuple[str, CompiledPattern]]]] = []
        for name, team in config.teams.items():
            rules: list[tuple[str, CompiledPattern]] = [
                (keyword, _word_start(keyword)) for keyword in team.keywords if keyword]
            # Customer text never meets a backtracking engine: patterns run on RE2.
            rules += [(pattern, compile_pattern(pattern)) for pattern in team.patterns]
            self._rules.append((name, rules))
        self._customer_owner = {
            customer.casefold(): name
            for name, team in config.teams.items()
            for customer in team.customers
        }
        spellings: dict[str, str] = {}
        for team in config.teams.values():
            for customer in team.customers:
                spellings.setdefault(customer.casefold(), customer)
        for customer in config.customer_channels.values():
            spellings.setdefault(customer.casefold(), customer)
        # Patterns come from the config's own spelling (casefolding "Großhandel" would
        # give "grosshandel", which the text never says); longest first, so that
        # "acme labs" wins over "acme".
        self._customer_patterns = [
            (customer, re.compile(rf"(?<!\w){re.escape(customer)}(?!\w)", re.IGNORECASE))
            for customer in sorted(spellings.values(), key=len, reverse=True)
        ]

    def detect_customer(self, *, text: str, channel: str | None) -> str | None:
        """Return the customer a message is about: by its shared channel, else by name."""
        if channel and channel in self.config.customer_channels:
            return self.config.customer_channels[channel]
        for customer, pattern in self._customer_patterns:
            if pattern.search(text):
                return customer
        return None

    def route(
        self, *, text: str, customer: str | None = None, chosen_team: str | None = None
    ) -> RouteDecision:
        """Pick the owning team: chosen > customer owner > keywords/patterns > fallback."""
        if chosen_team and chosen_team in self.config.teams:
            return RouteDecision(team=chosen_team, reason="chosen")
        if customer and customer.casefold() in self._customer_owner:
            return RouteDecision(team=self._customer_owner[customer.casefold()],
                                 reason="customer", matches=(customer,))
        best: tuple[int, str, tuple[str, ...]] | None = None
        for name, rules in self._rules:
            hits: list[str] = []
            count = 0
            for label, pattern in rules:
                found = len(pattern.findall(text))
                if found:
                    hits.append(label)
                    count += found
            # Strictly greater: ties keep the team that comes first in the config.
            if count and (best is None or count > best[0]):
                best = (count, name, tuple(hits))
        if best is not None:
            return RouteDecision(team=best[1], reason="keywords", matches=best[2])
        if self.config.fallback and self.config.fallback in self.config.teams:
            return RouteDecision(team=self.config.fallback, reason="fallback")
        return RouteDecision(team=next(iter(self.config.teams)), reason="default")


def card_platform(team: TeamConfig, forwarded_on: str) -> str:
    """Where `team`'s card for an item goes: the forwarder's platform when the team is there too."""
    platforms = team.platforms
    return forwarded_on if forwarded_on in platforms else platforms[0]
