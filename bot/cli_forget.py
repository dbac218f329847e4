"""`feedbackbot forget`: erase one person's words and names, keeping the figures' timings."""

from __future__ import annotations

import argparse

from bot.cli_support import fail
from bot.erasure import Person
from bot.models import utcnow
from bot.outbox_kinds import CARD_UPDATE
from bot.settings import Settings
from bot.store import NewOutbox


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    """Erase what the store holds of one customer or one user; print what went."""
    from storage import open_existing_store

    try:
        person = Person(customer=args.customer, user=args.user)
    except ValueError as error:
        return fail(str(error))
    try:
        store = open_existing_store(settings.database_url)
    except ValueError as error:
        return fail(str(error))
    try:
        report = store.forget_person(person=person, now=utcnow(), dry_run=args.dry_run)
        if not args.dry_run:
            # Cards are drawn from their item: redrawn, they show the words erased too.
            for workspace, item_id in report.items:
                item = store.get_item(workspace=workspace, item_id=item_id)
                if item is not None and item.card_ts:
                    store.outbox_enqueue(workspace=workspace, item_id=item_id,
                                         entry=NewOutbox(kind=CARD_UPDATE))
    finally:
        store.close()
    if report.empty:
        print(f"nothing to forget: nothing stored holds {person.describe()}")
        return 0
    for line in report.lines(dry_run=args.dry_run):
        print(line)
    if args.dry_run:
        print("dry run: nothing was changed")
    elif report.items:
        print(f"{len(report.items)} card(s) will be redrawn without the words by the running"
              " bot; messages already sent to people (relays, DMs) stay in their chats")
    return 0


def add_command(commands: argparse._SubParsersAction) -> None:
    """Add `forget` to the command line."""
    forget = commands.add_parser(
        "forget", help="erase one customer's or user's words and names (timings stay)")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", metavar="NAME",
                     help="the customer's name as forwarded (any letter case)")
    who.add_argument("--user", metavar="ID", help="a chat user id, such as U012ABCDEF")
    forget.add_argument("--dry-run", action="store_true",
                        help="print what would be erased and change nothing")
    forget.set_defaults(handler=cmd_forget)
