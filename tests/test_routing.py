"""Tests for bot.routing: which team owns a piece of feedback, and which customer it is about."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config, TeamConfig
from bot.routing import Router


def team(channel: str, **fields: Any) -> TeamConfig:
    """A team owned by one user, with whatever routing fields the test needs."""
    return TeamConfig(channel=channel, owners=["U0OWNER"], **fields)


@pytest.fixture
def two_team_router() -> Router:
    """payments (refund, invoice; owns acme) listed before mobile (ios, app; owns globex)."""
    config = Config(
        teams={
            "payments": team(
                "C0PAY",
                keywords=["refund", "invoice"],
                patterns=["double[- ]charg"],
                customers=["acme"],
            ),
            "mobile": team("C0MOB", keywords=["ios", "app"], customers=["globex"]),
            "triage": team("C0TRI"),
        },
        fallback="triage",
        customer_channels={"C0ACMESHARED": "acme", "C0INITECH": "initech"},
    )
    return Router(config)


# --- precedence --------------------------------------------------------------------------


def test_chosen_team_beats_customer_and_keywords(two_team_router: Router) -> None:
    decision = two_team_router.route(
        text="refund the invoice", customer="acme", chosen_team="mobile"
    )
    assert (decision.team, decision.reason) == ("mobile", "chosen")


def test_unknown_chosen_team_is_ignored(two_team_router: Router) -> None:
    # IntakeService rejects unknown teams; the router itself must never route to one.
    decision = two_team_router.route(text="refund please", chosen_team="nope")
    assert (decision.team, decision.reason) == ("payments", "keywords")


def test_customer_owner_beats_keywords(two_team_router: Router) -> None:
    decision = two_team_router.route(text="the ios app crashes", customer="acme")
    assert (decision.team, decision.reason) == ("payments", "customer")
    assert decision.matches == ("acme",)


def test_customer_match_ignores_case(two_team_router: Router) -> None:
    decision = two_team_router.route(text="the ios app crashes", customer="ACME")
    assert (decision.team, decision.reason) == ("payments", "customer")


def test_customer_owned_by_no_team_routes_by_keywords(two_team_router: Router) -> None:
    decision = two_team_router.route(text="the ios app crashes", customer="initech")
    assert (decision.team, decision.reason) == ("mobile", "keywords")


def test_most_matching_terms_win_over_config_order(two_team_router: Router) -> None:
    decision = two_team_router.route(text="Refund requested in the iOS app")
    assert (decision.team, decision.reason) == ("mobile", "keywords")
    assert set(decision.matches) == {"ios", "app"}


def test_patterns_count_alongside_keywords() -> None:
    # mobile is listed first, so payments wins only if its pattern match is counted too.
    config = Config(
        teams={
            "mobile": team("C1", keywords=["ios"]),
            "payments": team("C2", keywords=["refund"], patterns=["double[- ]charg"]),
        }
    )
    decision = Router(config).route(text="iOS refund after a double charge")
    assert (decision.team, decision.reason) == ("payments", "keywords")
    assert set(decision.matches) == {"refund", "double[- ]charg"}


def test_tie_goes_to_the_team_listed_first() -> None:
    text = "refund from the ios build"
    payments_first = Config(
        teams={"payments": team("C1", keywords=["refund"]), "mobile": team("C2", keywords=["ios"])}
    )
    mobile_first = Config(
        teams={"mobile": team("C2", keywords=["ios"]), "payments": team("C1", keywords=["refund"])}
    )
    assert Router(payments_first).route(text=text).team == "payments"
    assert Router(mobile_first).route(text=text).team == "mobile"


def test_nothing_matching_goes_to_the_fallback(two_team_router: Router) -> None:
    decision = two_team_router.route(text="the dashboard is slow")
    assert (decision.team, decision.reason, decision.matches) == ("triage", "fallback", ())


def test_empty_text_goes_to_the_fallback(two_team_router: Router) -> None:
    assert two_team_router.route(text="").reason == "fallback"


def test_without_a_fallback_the_first_team_gets_it_as_default() -> None:
    config = Config(
        teams={"web": team("C1", keywords=["browser"]), "api": team("C2", keywords=["endpoint"])}
    )
    decision = Router(config).route(text="the dashboard is slow")
    assert (decision.team, decision.reason) == ("web", "default")


# --- keywords and patterns ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["refund please", "Refunds are late", "REFUND!", "(refund)", "non-refundable", "x\nrefund"],
)
def test_keyword_matches_at_a_word_start_in_any_case(two_team_router: Router, text: str) -> None:
    assert two_team_router.route(text=text).team == "payments"


@pytest.mark.parametrize("text", ["prefund the account", "unrefunded", "my_refund", "xinvoice"])
def test_keyword_inside_a_word_does_not_match(two_team_router: Router, text: str) -> None:
    assert two_team_router.route(text=text).reason == "fallback"


def test_keyword_is_literal_text_not_a_regex() -> None:
    config = Config(
        teams={"sdk": team("C1", keywords=["c++", "v1.2"]), "triage": team("C2")},
        fallback="triage",
    )
    router = Router(config)
    assert router.route(text="the C++ sdk leaks").team == "sdk"
    assert router.route(text="broken since v1.2").team == "sdk"
    # An unescaped "." would match any character here.
    assert router.route(text="broken since v1x2").team == "triage"


def test_keyword_matches_non_ascii_in_any_case() -> None:
    config = Config(
        teams={"billing": team("C1", keywords=["überweisung"]), "triage": team("C2")},
        fallback="triage",
    )
    assert Router(config).route(text="Die ÜBERWEISUNG fehlt").team == "billing"


@pytest.mark.parametrize("text", ["double charged", "DOUBLE-CHARGE again", "Double Charging"])
def test_pattern_is_a_case_insensitive_regex(two_team_router: Router, text: str) -> None:
    decision = two_team_router.route(text=text)
    assert (decision.team, decision.matches) == ("payments", ("double[- ]charg",))


def test_pattern_that_does_not_match_routes_elsewhere(two_team_router: Router) -> None:
    assert two_team_router.route(text="double_charge").reason == "fallback"


# --- customers ---------------------------------------------------------------------------


def test_customer_from_shared_channel_beats_a_name_in_the_text(two_team_router: Router) -> None:
    found = two_team_router.detect_customer(text="globex does it too", channel="C0ACMESHARED")
    assert found == "acme"


def test_customer_from_a_channel_no_team_owns(two_team_router: Router) -> None:
    assert two_team_router.detect_customer(text="hello", channel="C0INITECH") == "initech"


def test_customer_by_name_when_the_channel_is_not_a_customer_channel(
    two_team_router: Router,
) -> None:
    assert two_team_router.detect_customer(text="Globex's login broke", channel="C0X") == "globex"


def test_customer_names_from_customer_channels_are_recognised_in_text(
    two_team_router: Router,
) -> None:
    assert two_team_router.detect_customer(text="Initech asked", channel=None) == "initech"


@pytest.mark.parametrize("text", ["acmeville is down", "megaacme", "acme_corp", "nothing"])
def test_customer_name_must_be_a_whole_word(two_team_router: Router, text: str) -> None:
    assert two_team_router.detect_customer(text=text, channel=None) is None


def test_customer_is_returned_as_spelled_in_the_config() -> None:
    config = Config(teams={"a": team("C1", customers=["Acme Labs", "Acme"])})
    router = Router(config)
    assert router.detect_customer(text="ACME LABS called", channel=None) == "Acme Labs"
    # The longer name wins over the shorter one it contains.
    assert router.detect_customer(text="acme labs and acme", channel=None) == "Acme Labs"
    assert router.detect_customer(text="acme called", channel=None) == "Acme"


def test_customer_whose_name_changes_when_casefolded_is_recognised() -> None:
    config = Config(teams={"a": team("C1", customers=["Großhandel"])})
    found = Router(config).detect_customer(text="Großhandel reports an outage", channel=None)
    assert found == "Großhandel"


# --- the example config ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "channel", "team_name", "reason"),
    [
        ("Customer wants a refund for March", None, "payments", "keywords"),
        ("They were double-charged", None, "payments", "keywords"),
        ("The iOS app crashes at login", None, "mobile", "keywords"),
        ("The dashboard is slow", None, "triage", "fallback"),
        # Globex is owned by mobile, so their refund question goes to mobile.
        ("Where is my refund?", "C0GLOBEXSHARED", "mobile", "customer"),
        ("Acme cannot log in to the app", None, "payments", "customer"),
    ],
)
def test_example_config_routing(
    example_config: Config, text: str, channel: str | None, team_name: str, reason: str
) -> None:
    router = Router(example_config)
    customer = router.detect_customer(text=text, channel=channel)
    decision = router.route(text=text, customer=customer)
    assert (decision.team, decision.reason) == (team_name, reason)
