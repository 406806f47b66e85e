-- The indexes of migrations/0002_scale_indexes.sql. PostgreSQL's planner has statistics,
-- so the statements carry no INDEXED BY hints here (the engine drops them).

CREATE INDEX messages_unread ON messages (fleet_id, recipient, id)
    WHERE state IN ('queued', 'notified');

CREATE INDEX messages_thread ON messages (fleet_id, sender, recipient, id);
