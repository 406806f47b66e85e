-- Indexes for large registries (bench/scale.sh: 1,000 agents, 100,000 messages), so the
-- hot queries touch only the rows they return, not every message of a fleet or every
-- message a member ever received. The queries name them with INDEXED BY where SQLite's
-- planner, having no statistics, would guess another index (src/registry/query_plans.rs
-- checks every hot query's plan).

-- Unread messages only, in id order: `inbox`, unread counts for `ps` and `member list`.
CREATE INDEX messages_unread ON messages (fleet_id, recipient, id)
    WHERE state IN ('queued', 'notified');

-- `message list --with`: the thread between two members, one direction per search, in
-- id order so the newest N are read without sorting the whole thread.
CREATE INDEX messages_thread ON messages (fleet_id, sender, recipient, id);
