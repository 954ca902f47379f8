-- Telemetry moved to a database file of its own (`<name>-telemetry.sqlite`), so that alert
-- commits never wait behind large telemetry writes. Its tables leave the main file.
DROP TABLE process_events;
DROP TABLE marks;
DROP TABLE traces;
DROP TABLE logs;
DROP TABLE processes;
