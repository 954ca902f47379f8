-- klaxon SQLite schema: an incident's priority set by hand.
-- Runs once, inside one transaction; `PRAGMA user_version` records it.
--
-- `priority_by` names who set the priority by hand; NULL while it follows the highest
-- severity of the incident's open alerts.
ALTER TABLE incidents ADD COLUMN priority_by TEXT;
