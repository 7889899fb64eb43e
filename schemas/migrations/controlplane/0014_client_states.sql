-- Per-client states (ClickHouse `client_states`, core/calls/client_states.py): the earliest
-- range start they answer for the company (null: not at all until the worker's client-state
-- round rebuilt them), and when they last became unusable (a withdrawn device's calls deleted,
-- or a retention run during a rebuild): the round waits a few seconds after it, and records
-- its rebuild only if nothing made them unusable again meanwhile.
ALTER TABLE companies ADD COLUMN client_states_from TIMESTAMP;
ALTER TABLE companies ADD COLUMN client_states_stale_at TIMESTAMP;
