-- The registry: fleets, their agents, the messages between them, the audit timeline and
-- the monitor's state. Timestamps are UTC ISO-8601 text with milliseconds, taken from
-- SQLite's own clock so every writer agrees on the format.

CREATE TABLE fleets (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    origin        TEXT NOT NULL CHECK (origin IN ('manifest', 'cli')),
    manifest_path TEXT,
    session       TEXT NOT NULL,
    socket        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'up' CHECK (status IN ('up', 'down')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE agents (
    id            INTEGER PRIMARY KEY,
    fleet_id      INTEGER NOT NULL REFERENCES fleets (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('director', 'monitor', 'member')),
    backend       TEXT NOT NULL,
    model         TEXT,
    description   TEXT NOT NULL DEFAULT '',
    origin        TEXT NOT NULL CHECK (origin IN ('manifest', 'cli')),
    config_hash   TEXT,
    spec_json     TEXT,
    pane_id       TEXT,
    pane_pid      INTEGER,
    status        TEXT NOT NULL DEFAULT 'starting',
    status_reason TEXT,
    status_since  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    restarts      TEXT NOT NULL DEFAULT '[]',
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (fleet_id, name)
);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
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

CREATE INDEX messages_inbox ON messages (fleet_id, recipient, state, id);
CREATE INDEX messages_sender ON messages (fleet_id, sender, id);
CREATE INDEX messages_pending ON messages (fleet_id, state) WHERE state = 'queued';

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    fleet_id   INTEGER REFERENCES fleets (id) ON DELETE CASCADE,
    agent      TEXT,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX events_fleet ON events (fleet_id, id);

CREATE TABLE monitors (
    fleet_id       INTEGER PRIMARY KEY REFERENCES fleets (id) ON DELETE CASCADE,
    pid            INTEGER,
    status         TEXT NOT NULL DEFAULT 'stopped' CHECK (status IN ('running', 'stopped')),
    interval_ms    INTEGER NOT NULL DEFAULT 60000,
    stall_after_ms INTEGER NOT NULL DEFAULT 600000,
    started_at     TEXT,
    last_tick_at   TEXT,
    stopped_at     TEXT,
    stop_reason    TEXT
);
