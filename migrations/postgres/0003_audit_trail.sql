-- The audit trail of migrations/0003_audit_trail.sql. Identity columns never hand an id
-- out twice already, so no table is rebuilt: `fleets` gains `deleted_at`, and a fleet
-- name becomes unique among the fleets that are not deleted only.

ALTER TABLE fleets ADD COLUMN deleted_at TEXT;
ALTER TABLE fleets DROP CONSTRAINT fleets_name_key;
CREATE UNIQUE INDEX fleets_live_name ON fleets (name) WHERE deleted_at IS NULL;
