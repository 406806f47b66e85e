-- An audit trail that stays: ids are never reused, and a deleted fleet keeps its history.
--
-- * fleets, messages and events become AUTOINCREMENT, so an id is never handed out twice,
--   even after the rows with the highest ids were purged (`message #20` names one message
--   for the life of the registry).
-- * `fleet delete` marks a fleet deleted (`deleted_at`) instead of erasing it; its
--   messages and events stay readable. Only `--purge` erases. A fleet name is unique among
--   the fleets that are not deleted, so a new fleet may take the name of a deleted one.
--
-- SQLite cannot add AUTOINCREMENT or drop a UNIQUE constraint in place: each table is
-- rebuilt (create, copy, drop, rename) with its indexes. The migration runner turns
-- foreign keys off around the migration, so dropping the old `fleets` cascades nothing,
-- and checks every reference before it commits.

CREATE TABLE fleets_0003 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('manifest', 'cli')),
    manifest_path TEXT,
    session       TEXT NOT NULL,
    socket        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'up' CHECK (status IN ('up', 'down')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at    TEXT
);
INSERT INTO fleets_0003 (id, name, origin, manifest_path, session, socket, status, created_at, updated_at)
    SELECT id, name, origin, manifest_path, session, socket, status, created_at, updated_at FROM fleets;
DROP TABLE fleets;
ALTER TABLE fleets_0003 RENAME TO fleets;
-- One live fleet per name; deleted ones may share it.
CREATE UNIQUE INDEX fleets_live_name ON fleets (name) WHERE deleted_at IS NULL;

CREATE TABLE messages_0003 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    fleet_id      INTEGER NOT NULL REFERENCES fleets (id) ON DELETE CASCADE,
    sender        TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    body          BLOB NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'broadcast', 'nudge')),
    state         TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'notified', 'read', 'acked')),
    state_reason  TEXT,
    broadcast_id  INTEGER,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    notified_at   TEXT,
    read_at       TEXT,
    acked_at      TEXT
);
INSERT INTO messages_0003 SELECT id, fleet_id, sender, recipient, body, kind, state, state_reason,
    broadcast_id, created_at, notified_at, read_at, acked_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_0003 RENAME TO messages;
CREATE INDEX messages_inbox ON messages (fleet_id, recipient, state, id);
CREATE INDEX messages_sender ON messages (fleet_id, sender, id);
CREATE INDEX messages_pending ON messages (fleet_id, state) WHERE state = 'queued';
CREATE INDEX messages_unread ON messages (fleet_id, recipient, id)
    WHERE state IN ('queued', 'notified');
CREATE INDEX messages_thread ON messages (fleet_id, sender, recipient, id);

CREATE TABLE events_0003 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    fleet_id   INTEGER REFERENCES fleets (id) ON DELETE CASCADE,
    agent      TEXT,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO events_0003 SELECT id, fleet_id, agent, kind, detail, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_0003 RENAME TO events;
CREATE INDEX events_fleet ON events (fleet_id, id);
