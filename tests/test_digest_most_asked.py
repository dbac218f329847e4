"""The digest's "Most asked": items most +1'd in the period, on Slack, Teams and --print."""

from __future__ import annotations

from datetime import timedelta

from bot.digest_text import digest_table
from bot.models import Event
from bot.store import Store
from handlers.msteams.digest_card import digest_card
from handlers.slack.digest_blocks import digest_blocks
from tests.store_backends import create
from tests.test_themes_digest import MONDAY, MONDAY_RUN, WORKSPACE, service, themes_config


def _plus_one(store: Store, parent: int, customer: str, at, workspace: str = WORKSPACE):
    item = create(store, workspace=workspace, team="payments", customer=customer,
                  text="Apple Pay fails at checkout", received_at=at, forwarded_at=at)
    linked = store.link_item(workspace=workspace, item_id=item.id, to=parent, by="U0SUP",
                             now=at, changes={},
                             events=[Event(item_id=item.id, kind="linked", actor="U0SUP", at=at)],
                             outbox=[], parent_outbox=[])
    assert linked is not None
    return linked


def test_the_most_asked_items_of_the_period_are_listed_most_first(fresh_store):
    day = MONDAY_RUN - timedelta(hours=10)  # within Monday's window (since Friday's run)
    old = MONDAY_RUN - timedelta(days=20)
    apple = create(fresh_store, workspace=WORKSPACE, team="payments", customer="acme",
                   text="Apple Pay checkout fails", received_at=day, forwarded_at=day)
    export = create(fresh_store, workspace=WORKSPACE, team="mobile", customer="initech",
                    text="Export <!channel> is empty", received_at=day, forwarded_at=day)
    quiet = create(fresh_store, workspace=WORKSPACE, team="payments", text="Refund late",
                   received_at=old, forwarded_at=old)
    for customer in ("globex", "umbrella", "globex"):
        _plus_one(fresh_store, apple.id, customer, day + timedelta(minutes=5))
    _plus_one(fresh_store, export.id, "hooli", day + timedelta(minutes=9))
    _plus_one(fresh_store, quiet.id, "stark", old + timedelta(minutes=1))  # before the period
    other = create(fresh_store, workspace="T0OTHER", team="payments", text="Apple Pay fails",
                   received_at=day, forwarded_at=day)
    for customer in ("a", "b", "c", "d"):
        _plus_one(fresh_store, other.id, customer, day, workspace="T0OTHER")

    data = service(fresh_store, themes_config(themes="off"), MONDAY_RUN).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)

    assert [(a.item.id, a.new, a.customers) for a in data.most_asked] == [
        (apple.id, 3, 4), (export.id, 1, 2)]
    assert data.most_asked[0].names == ("acme", "globex", "umbrella")
    assert data.most_asked[0].label() == "4 customers (+3 this period): acme, globex, umbrella"
    slack = str(digest_blocks(data))
    assert "Most asked" in slack and f"#{apple.id}" in slack
    assert "<!channel>" not in slack  # customer words stay inert
    teams = str(digest_card(data))
    assert "Most asked" in teams and "4 customers" in teams
    printed = digest_table(data, width=140)
    assert "Most asked" in printed and f"#{export.id} mobile: 2 customers" in printed


def test_a_period_without_plus_ones_shows_no_section(fresh_store):
    day = MONDAY_RUN - timedelta(hours=10)
    create(fresh_store, workspace=WORKSPACE, team="payments", text="Apple Pay fails",
           received_at=day, forwarded_at=day)
    data = service(fresh_store, themes_config(themes="off"), MONDAY_RUN).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)
    assert data.most_asked == ()
    assert "Most asked" not in str(digest_blocks(data)) + digest_table(data)


def test_a_scoped_subscription_sees_only_its_teams_most_asked(fresh_store):
    day = MONDAY_RUN - timedelta(hours=10)
    export = create(fresh_store, workspace=WORKSPACE, team="mobile", text="Export is empty",
                    received_at=day, forwarded_at=day)
    _plus_one(fresh_store, export.id, "hooli", day)
    config = themes_config(themes="off")
    config.digests[0].teams = ["payments"]
    data = service(fresh_store, config, MONDAY_RUN).build(
        workspace=WORKSPACE, index=0, local_date=MONDAY, late=False)
    assert data.most_asked == ()
