"""The one schema history both backends apply, in order, each version once.

Statements are portable SQL; `$id`, `$time` and `$flag` stand for the column types of
storage/dialect.py (SQLite keeps times as `…Z` text, PostgreSQL as `timestamptz`).
Applied versions are recorded in `schema_migrations`. Append new versions at the end;
never edit one that has shipped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.dialect import Database, Transaction
from storage.similar import SCHEMA as _V14_SIMILAR_ITEMS

_V1_INITIAL = (
    """
    CREATE TABLE inbox (
        id $id,
        workspace TEXT NOT NULL,
        kind TEXT NOT NULL,
        dedupe_key TEXT UNIQUE,
        body TEXT NOT NULL,
        headers TEXT NOT NULL DEFAULT '{}',
        received_at $time NOT NULL,
        processed $flag NOT NULL DEFAULT FALSE,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT
    )""",
    "CREATE INDEX inbox_pending ON inbox (processed, id)",
    """
    CREATE TABLE items (
        id $id,
        workspace TEXT NOT NULL,
        team TEXT NOT NULL,
        status TEXT NOT NULL,
        text TEXT NOT NULL,
        customer TEXT,
        severity TEXT NOT NULL,
        source_channel TEXT,
        source_ts TEXT,
        forwarded_by TEXT NOT NULL,
        received_at $time NOT NULL,
        forwarded_at $time NOT NULL,
        intake_kind TEXT NOT NULL,
        source_author TEXT,
        source_permalink TEXT,
        note TEXT,
        reply_channel TEXT,
        reply_thread_ts TEXT,
        assignees TEXT NOT NULL DEFAULT '[]',
        card_channel TEXT,
        card_ts TEXT,
        first_response_at $time,
        first_response_by TEXT,
        first_response_kind TEXT,
        resolved_at $time,
        resolution_note TEXT,
        reassignments INTEGER NOT NULL DEFAULT 0,
        failed TEXT,
        intake_key TEXT
    )""",
    # One item per source message. Unique indexes treat NULLs as distinct, so items
    # without a source (/feedback <text>) or without an intake key never collide.
    "CREATE UNIQUE INDEX items_source ON items (workspace, source_channel, source_ts)",
    "CREATE UNIQUE INDEX items_intake_key ON items (workspace, intake_key)",
    "CREATE INDEX items_card ON items (workspace, card_channel, card_ts)",
    "CREATE INDEX items_forwarded ON items (forwarded_at)",
    """
    CREATE TABLE events (
        id $id,
        workspace TEXT NOT NULL,
        item_id BIGINT NOT NULL REFERENCES items (id),
        kind TEXT NOT NULL,
        actor TEXT,
        at $time NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX events_item ON events (workspace, item_id)",
    # JSON stays text holding json.dumps output: PostgreSQL's jsonb would reject the
    # \u0000 escape that customer text may contain.
    """
    CREATE TABLE outbox (
        id $id,
        workspace TEXT NOT NULL,
        item_id BIGINT,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at $time NOT NULL,
        unknown_fate $flag NOT NULL DEFAULT FALSE,
        last_error TEXT,
        result TEXT,
        created_at $time NOT NULL,
        sent_at $time
    )""",
    "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
    "CREATE TABLE rotations (workspace TEXT NOT NULL, team TEXT NOT NULL,"
    " counter BIGINT NOT NULL, PRIMARY KEY (workspace, team))",
    "CREATE TABLE drafts (id $id, workspace TEXT NOT NULL, data TEXT NOT NULL,"
    " created_at $time NOT NULL)",
    "CREATE TABLE channels (workspace TEXT NOT NULL, channel TEXT NOT NULL,"
    " shared $flag NOT NULL, checked_at $time NOT NULL, PRIMARY KEY (workspace, channel))",
    "CREATE TABLE workspaces (workspace TEXT PRIMARY KEY, revoked_at $time)",
)

_V2_RESPONSES = (
    "ALTER TABLE items ADD COLUMN resolved_by TEXT",
    # "user" is a reserved word in PostgreSQL, so it is quoted everywhere.
    'CREATE TABLE followers (workspace TEXT NOT NULL, item_id BIGINT NOT NULL,'
    ' "user" TEXT NOT NULL, since $time NOT NULL, PRIMARY KEY (workspace, item_id, "user"))',
    "CREATE INDEX outbox_item ON outbox (item_id, kind)",
)

_V3_DIGESTS_AND_REMINDERS = (
    # A lease lets several processes share one outbox without sending an entry twice.
    "ALTER TABLE outbox ADD COLUMN lease_owner TEXT",
    "ALTER TABLE outbox ADD COLUMN lease_until $time",
    "ALTER TABLE items ADD COLUMN escalated_at $time",
    "CREATE TABLE item_flags (workspace TEXT NOT NULL, item_id BIGINT NOT NULL,"
    " flag TEXT NOT NULL, at $time NOT NULL, PRIMARY KEY (workspace, item_id, flag))",
    "CREATE TABLE digest_claims (workspace TEXT NOT NULL, subscription TEXT NOT NULL,"
    " period TEXT NOT NULL, claimed_at $time NOT NULL, late $flag NOT NULL DEFAULT FALSE,"
    " PRIMARY KEY (workspace, subscription, period))",
)

_V4_EVENTS_BY_KIND = (
    # PostgreSQL databases made before the histories were merged already have it.
    "CREATE INDEX IF NOT EXISTS events_kind ON events (workspace, kind)",
)

_V5_PLATFORMS = (
    # Where the item was forwarded (its notices go back there) and where its card is.
    "ALTER TABLE items ADD COLUMN platform TEXT NOT NULL DEFAULT 'slack'",
    "ALTER TABLE items ADD COLUMN card_platform TEXT",
    "ALTER TABLE inbox ADD COLUMN platform TEXT NOT NULL DEFAULT 'slack'",
    "ALTER TABLE followers ADD COLUMN platform TEXT NOT NULL DEFAULT 'slack'",
    # What a platform told the bot about a conversation it was added to (Teams sends
    # its service URL and reference only then), so proactive sends survive a restart.
    "CREATE TABLE conversations (platform TEXT NOT NULL, conversation_id TEXT NOT NULL,"
    " workspace TEXT NOT NULL, kind TEXT NOT NULL, tenant TEXT, service_url TEXT NOT NULL,"
    ' reference TEXT NOT NULL, team_id TEXT, "user" TEXT, updated_at $time NOT NULL,'
    " removed_at $time, PRIMARY KEY (platform, conversation_id))",
    'CREATE INDEX conversations_user ON conversations (platform, "user")',
)

_V6_FIGURES_BY_WINDOW = (
    # Digests, stats and `mine` read one window of one workspace: the items forwarded,
    # first answered or resolved in it, and those still waiting. Each has its index, so
    # the cost follows the window, not the whole history. The indexes carry every column
    # the figures read (storage/figures.py), so no item row is visited: SQLite has no
    # INCLUDE, so they are plain key columns on both databases.
    "CREATE INDEX items_window_forwarded ON items (workspace, forwarded_at, team, status,"
    " severity, received_at, first_response_at, resolved_at, reassignments)",
    # Partial (only the answered, only the resolved): smaller, and never mistaken for a
    # way to find the unanswered, which items_waiting holds.
    "CREATE INDEX items_window_responded ON items (workspace, first_response_at, team,"
    " status, severity, received_at, forwarded_at, resolved_at, reassignments)"
    " WHERE first_response_at IS NOT NULL",
    "CREATE INDEX items_window_resolved ON items (workspace, resolved_at, team, status,"
    " severity, received_at, forwarded_at, first_response_at, reassignments)"
    " WHERE resolved_at IS NOT NULL",
    # Partial: only unanswered, unresolved items, which stay few however long the history.
    "CREATE INDEX items_waiting ON items (workspace, received_at, team, status, severity,"
    " forwarded_at, first_response_at, resolved_at, reassignments)"
    " WHERE first_response_at IS NULL AND status <> 'resolved'",
    # suggest-rules and digests read the last month of reassignments.
    "CREATE INDEX events_kind_at ON events (workspace, kind, at)",
)

_V7_OUTBOX_ORDER = (
    # Finds the earlier pending entries of an item, which its next entry waits behind.
    "CREATE INDEX outbox_item_order ON outbox (workspace, item_id, status, id)",
)

_V8_INBOX_CLAIMS = (
    # Who is finishing a stored request, and until when: several workers (and `serve`
    # finishing its own requests) share one inbox without finishing a row twice. A lease
    # that lapses (its process died) makes the row free again.
    "ALTER TABLE inbox ADD COLUMN lease_owner TEXT",
    "ALTER TABLE inbox ADD COLUMN lease_until $time",
)

_V9_INSTALLATIONS = (
    # Slack installations (OAuth mode), one row per install or bot: the newest per
    # enterprise/team (/user) wins. `secrets` is the Fernet-encrypted JSON of the tokens;
    # `data` holds the rest. '' stands for "none" so the lookups compare plain values.
    """
    CREATE TABLE slack_installations (
        id $id,
        kind TEXT NOT NULL,
        enterprise_id TEXT NOT NULL DEFAULT '',
        team_id TEXT NOT NULL DEFAULT '',
        user_id TEXT NOT NULL DEFAULT '',
        is_enterprise_install $flag NOT NULL DEFAULT FALSE,
        installed_at $time NOT NULL,
        data TEXT NOT NULL,
        secrets TEXT NOT NULL
    )""",
    "CREATE INDEX slack_installations_lookup ON slack_installations"
    " (kind, enterprise_id, team_id, user_id, installed_at)",
    # OAuth `state` values handed out by /slack/install, each consumed at most once.
    "CREATE TABLE oauth_states (state TEXT PRIMARY KEY, expires_at $time NOT NULL)",
)

_V10_CLOSED_LOOP = (
    # When the customer heard back, from whom, and how (bot/closed_loop.py).
    "ALTER TABLE items ADD COLUMN customer_answered_at $time",
    "ALTER TABLE items ADD COLUMN customer_answered_by TEXT",
    "ALTER TABLE items ADD COLUMN customer_answered_how TEXT",
    # "Time until the customer heard back" reads the items first answered in a window
    # (storage/closed_loop.py); the index carries every column it reads.
    "CREATE INDEX items_window_heard_back ON items (workspace, first_response_at, team,"
    " received_at, customer_answered_at) WHERE first_response_at IS NOT NULL",
)

_V11_LINKED_ITEMS = (
    # A "+1": the item is the same problem as `linked_to`, whose card and answers it shares.
    "ALTER TABLE items ADD COLUMN linked_to BIGINT",
    "ALTER TABLE items ADD COLUMN linked_at $time",
    "ALTER TABLE items ADD COLUMN linked_by TEXT",
    # Finds an item's +1s, to render its card and tell their forwarders; few rows.
    "CREATE INDEX items_linked ON items (workspace, linked_to) WHERE linked_to IS NOT NULL",
    # A +1 never waits on its own (storage/figures.py WAITING): the waiting items' index
    # leaves them out, and still covers every column the figures read.
    "DROP INDEX items_waiting",
    "CREATE INDEX items_waiting ON items (workspace, received_at, team, status, severity,"
    " forwarded_at, first_response_at, resolved_at, reassignments, linked_to)"
    " WHERE first_response_at IS NULL AND status <> 'resolved' AND linked_to IS NULL",
)

# A migration is the same statements for both, or its own per dialect name.
Statements = tuple[str, ...] | dict[str, tuple[str, ...]]

MIGRATIONS: list[tuple[int, Statements]] = [
    (1, _V1_INITIAL),
    (2, _V2_RESPONSES),
    (3, _V3_DIGESTS_AND_REMINDERS),
    (4, _V4_EVENTS_BY_KIND),
    (5, _V5_PLATFORMS),
    (6, _V6_FIGURES_BY_WINDOW),
    (7, _V7_OUTBOX_ORDER),
    (8, _V8_INBOX_CLAIMS),
    (9, _V9_INSTALLATIONS),
    (10, _V10_CLOSED_LOOP),
    # "+1": items linked to the item they say the same as (storage/links.py).
    (11, _V11_LINKED_ITEMS),
    # Full-text search over item text (storage/similar.py).
    (14, _V14_SIMILAR_ITEMS),
]

_CREATE_RECORD = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
    " applied_at $time NOT NULL)"
)


def applied_versions(database: Database) -> list[int]:
    """Return the versions recorded in the database, oldest first (read-only)."""
    with database.read() as tx:
        if tx.one(database.dialect.table_exists, ("schema_migrations",)) is None:
            return []
        rows = tx.all("SELECT version FROM schema_migrations ORDER BY version")
    return [int(row["version"]) for row in rows]


def apply_migrations(database: Database) -> list[int]:
    """Apply every migration not yet recorded; return the versions applied.

    Each migration runs in its own transaction, holding SQLite's write lock or a
    PostgreSQL advisory lock, so two processes starting at once apply it once: the
    second waits, then finds it recorded. A database that is already up to date is
    only read, so a role without CREATE rights can still open it.
    """
    if {version for version, _ in MIGRATIONS} <= set(applied_versions(database)):
        return []
    dialect = database.dialect
    applied = []
    for version, statements in MIGRATIONS:
        with database.write() as tx:
            if dialect.migration_lock:
                tx.execute(dialect.migration_lock)
            tx.execute(dialect.ddl(_CREATE_RECORD))
            _adopt_separate_postgres_history(tx, database)
            if tx.one("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)):
                continue
            if isinstance(statements, dict):
                statements = statements[dialect.name]
            for statement in statements:
                tx.execute(dialect.ddl(statement))
            _record(tx, version)
            applied.append(version)
    return applied


def _adopt_separate_postgres_history(tx: Transaction, database: Database) -> None:
    """Translate the history PostgreSQL databases had before it was merged with SQLite's.

    Then, PostgreSQL's version 1 created the whole schema of SQLite's versions 1-3 at
    once (and the events_kind index of version 4). Such a database is recognised by a
    recorded version 1 without version 2, next to a table that only version 3 creates
    (which cannot happen on a database that followed this history).
    """
    versions = {int(row["version"]) for row in tx.all("SELECT version FROM schema_migrations")}
    if versions != {1} or tx.one(database.dialect.table_exists, ("item_flags",)) is None:
        return
    for version in (2, 3):
        _record(tx, version)


def _record(tx: Transaction, version: int) -> None:
    tx.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
        (version, datetime.now(UTC)),
    )
