-- The latest call per local hour and weekday of each employee and client (ClickHouse migration
-- 0013, core/calls/client_states.py) is kept with the other client states and follows
-- `client_states_from`: every company's states become unusable until the worker's client-state
-- round rebuilt them all from the calls (the history stored before 0013 has no such rows).
UPDATE companies SET client_states_from = NULL;
