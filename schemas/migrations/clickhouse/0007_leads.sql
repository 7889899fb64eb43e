-- Leads meet calls by client (the blind index), whichever came first (API.md "Leads").
-- `lead_clients`: which lead holds a client's number (the blind index, and as a UUID like
-- `calls.client`), written by the report API with every
-- lead write (a newer version replaces; `deleted` = 1 until the row's mutation removed it).
CREATE TABLE IF NOT EXISTS lead_clients (
    company_id String,
    client_key String,
    client UUID DEFAULT toUUID(concat(
        substring(client_key, 1, 8), '-', substring(client_key, 9, 4), '-',
        substring(client_key, 13, 4), '-', substring(client_key, 17, 4), '-',
        substring(client_key, 21, 12))),
    lead_id String,
    version UInt64,
    deleted UInt8
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, client)
;

-- `client_calls`: the calls again, one narrow row each, sorted by client (a materialized view
-- of every insert into `calls`; replays and re-uploads replace, like in `calls`): a lead's
-- status reads its clients' rows through the primary key instead of scanning the company's
-- calls, which are sorted by device. Per-client aggregate states (uniqExact of call ids) were
-- 3x slower to read for a page of 100 leads over 10M calls (BENCHMARKS.md).
CREATE TABLE IF NOT EXISTS client_calls (
    company_id String,
    client UUID,
    call_key UInt64,
    connected UInt8,
    started_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, client, call_key)
SETTINGS index_granularity = 1024
;

CREATE MATERIALIZED VIEW IF NOT EXISTS client_calls_feed TO client_calls AS
SELECT company_id, client, cityHash64(device_id, client_call_id) AS call_key,
    type IN ('incoming', 'outgoing') AND duration_s > 0 AS connected, started_at, version
FROM calls WHERE client_key != ''
;

INSERT INTO client_calls
SELECT company_id, client, cityHash64(device_id, client_call_id),
    type IN ('incoming', 'outgoing') AND duration_s > 0, started_at, version
FROM calls WHERE client_key != ''
