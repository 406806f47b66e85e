-- migrations/0004_status_signal.sql: which signal set an agent's state, and when its
-- hooks last reported anything.
ALTER TABLE agents ADD COLUMN status_signal TEXT NOT NULL DEFAULT 'command';
ALTER TABLE agents ADD COLUMN hook_at TEXT;
