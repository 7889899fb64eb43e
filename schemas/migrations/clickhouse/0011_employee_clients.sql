-- Per employee and client (core/calls/client_states.py): the latest call of each type an
-- employee had with a client, so the employees report's unique clients over a range that ends
-- after the company's latest call read a row per (employee, client) instead of every call of
-- the range. Kept with the per-client states: recomputed for the clients a batch touched,
-- rebuilt by the client-state round, usable from `companies.client_states_from`.
--
-- `client_calls` first learns each call's employee and type: a third view writes them; the
-- second goes; then every call is written again with them (the same version: the later insert
-- wins), as 0010 did. Safe while the worker runs.
ALTER TABLE client_calls ADD COLUMN employee UInt64 DEFAULT 0
;

ALTER TABLE client_calls ADD COLUMN type String DEFAULT ''
;

CREATE MATERIALIZED VIEW IF NOT EXISTS client_calls_employees TO client_calls AS
SELECT company_id, client, cityHash64(device_id, client_call_id) AS call_key,
    type IN ('incoming', 'outgoing') AND duration_s > 0 AS connected, started_at, version,
    type IN ('missed', 'rejected') AS missed, type = 'outgoing' AND duration_s = 0 AS tried,
    employee, toString(type) AS type
FROM calls WHERE client_key != ''
;

DROP TABLE IF EXISTS client_calls_kinds
;

INSERT INTO client_calls
    (company_id, client, call_key, connected, started_at, version, missed, tried, employee, type)
SELECT company_id, client, cityHash64(device_id, client_call_id),
    type IN ('incoming', 'outgoing') AND duration_s > 0, started_at, version,
    type IN ('missed', 'rejected'), type = 'outgoing' AND duration_s = 0, employee, toString(type)
FROM calls WHERE client_key != ''
;

-- Unix seconds (0: no such call; a row whose `last_call` is 0 is an employee who no longer
-- has a call with the client: a re-sent call can move to the employee its phone was enrolled
-- for since). `version`: the sum of the client's call versions, the same on every row of the
-- client (they are written together), so rows computed from more calls replace the others.
CREATE TABLE IF NOT EXISTS employee_clients (
    company_id String,
    client UUID,
    employee UInt64,
    last_call UInt32,
    last_incoming UInt32,
    last_outgoing UInt32,
    last_missed UInt32,
    last_voicemail UInt32,
    last_rejected UInt32,
    last_blocked UInt32,
    last_answered_externally UInt32,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, client, employee)
