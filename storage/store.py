"""The one Store implementation, for every database storage/dialect.py can open."""

from __future__ import annotations

from bot.store import Store
from storage.claims import ClaimQueries
from storage.closed_loop import ClosedLoopQueries
from storage.conversations import ConversationQueries
from storage.dialect import Database
from storage.erasure import ErasureQueries
from storage.figures import FigureQueries
from storage.inbox import InboxQueries
from storage.installations import InstallationQueries
from storage.items import ItemQueries
from storage.links import LinkQueries
from storage.migrations import apply_migrations
from storage.outbox import OutboxQueries
from storage.similar import SimilarItemQueries
from storage.telemetry import TelemetryQueries
from storage.themes import ThemeQueries
from storage.workspace import WorkspaceQueries


class SqlStore(InboxQueries, ItemQueries, OutboxQueries, ClaimQueries, WorkspaceQueries,
               ConversationQueries, FigureQueries, ErasureQueries, InstallationQueries,
               SimilarItemQueries, ThemeQueries, TelemetryQueries, ClosedLoopQueries,
               LinkQueries, Store):
    """Store over one database connection; brings its schema up to date on opening.

    Every method is one transaction. Raises what the database driver raises when the
    schema cannot be brought up to date (the connection is then closed).
    """

    def allow_unsynced_writes(self) -> None:
        self.database.unsynced_allowed = True

    def __init__(self, database: Database) -> None:
        self.database = database
        try:
            apply_migrations(database)
        except BaseException:
            database.close()
            raise

    def close(self) -> None:
        self.database.close()
