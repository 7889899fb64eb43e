-- The states per employee and client (ClickHouse migration 0011, core/calls/client_states.py)
-- live beside the per-client states and follow `client_states_from`: every company's states
-- become unusable until the worker's client-state round rebuilt both from the calls (the
-- history stored before 0011 has no rows per employee and client).
UPDATE companies SET client_states_from = NULL;
