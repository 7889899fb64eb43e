-- Per-client states (core/calls/client_states.py): one row per company and client with the
-- latest times the summary's per-client figures need, so a whole-company summary over a range
-- that ends after the company's latest call reads a row per client instead of every call of
-- the range. The calls worker recomputes the states of the clients each batch touched from
-- `client_calls FINAL`; the states of calls stored before are written by the worker's
-- client-state round, which then records them complete (`companies.client_states_from`).
--
-- `client_calls` first learns the two kinds the states need: a missed or rejected call, and an
-- outgoing call nobody picked up. A second view writes them; the first goes; then every call
-- is written again with them (the same version: the later insert wins), so rows the first view
-- wrote meanwhile are replaced too. Safe while the worker runs.
ALTER TABLE client_calls ADD COLUMN missed UInt8 DEFAULT 0
;

ALTER TABLE client_calls ADD COLUMN tried UInt8 DEFAULT 0
;

CREATE MATERIALIZED VIEW IF NOT EXISTS client_calls_kinds TO client_calls AS
SELECT company_id, client, cityHash64(device_id, client_call_id) AS call_key,
    type IN ('incoming', 'outgoing') AND duration_s > 0 AS connected, started_at, version,
    type IN ('missed', 'rejected') AS missed, type = 'outgoing' AND duration_s = 0 AS tried
FROM calls WHERE client_key != ''
;

DROP TABLE IF EXISTS client_calls_feed
;

INSERT INTO client_calls (company_id, client, call_key, connected, started_at, version, missed, tried)
SELECT company_id, client, cityHash64(device_id, client_call_id),
    type IN ('incoming', 'outgoing') AND duration_s > 0, started_at, version,
    type IN ('missed', 'rejected'), type = 'outgoing' AND duration_s = 0
FROM calls WHERE client_key != ''
;

-- Unix seconds (0: no such call). `missed_before` / `tried_before`: the latest missed or
-- rejected call / unanswered outgoing call at or before `last_connected`. `version`: the sum
-- of the client's call versions, which only grows as calls arrive or are corrected, so a state
-- computed from more of them replaces one computed from fewer, whichever is written last.
CREATE TABLE IF NOT EXISTS client_states (
    company_id String,
    client UUID,
    last_call UInt32,
    last_connected UInt32,
    last_missed UInt32,
    missed_before UInt32,
    last_tried UInt32,
    tried_before UInt32,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, client)
