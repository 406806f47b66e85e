-- Every agent state says which signal set it: `hook` (the agent's own CLI reported it
-- through a hook, notify program or plugin), `screen` (cafleet read the pane), `pane`
-- (the pane or its process is gone), `command` (a cafleet command such as `up` or
-- `down` decided it). `hook_at` is when the agent's hooks last reported anything: an
-- agent whose hooks work is told apart from one whose state is only ever read off its
-- screen.
ALTER TABLE agents ADD COLUMN status_signal TEXT NOT NULL DEFAULT 'command';
ALTER TABLE agents ADD COLUMN hook_at TEXT;
