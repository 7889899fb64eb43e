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

-- `client_calls`: per client, its distinct calls, connected calls and the latest start, kept by
-- a materialized view of every insert into `calls`. Counting distinct (device, phone call id)
-- makes replays and re-uploads count once; a lead's status is a read of two keys here instead
-- of a scan of the company's calls (10M calls: BENCHMARKS.md).
CREATE TABLE IF NOT EXISTS client_calls (
    company_id String,
    client UUID,
    calls AggregateFunction(uniqExact, UInt64),
    connected AggregateFunction(uniqExactIf, UInt64, UInt8),
    last_started AggregateFunction(max, DateTime('UTC'))
) ENGINE = AggregatingMergeTree
ORDER BY (company_id, client)
;

CREATE MATERIALIZED VIEW IF NOT EXISTS client_calls_feed TO client_calls AS
SELECT company_id, client,
    uniqExactState(cityHash64(device_id, client_call_id)) AS calls,
    uniqExactIfState(cityHash64(device_id, client_call_id),
        type IN ('incoming', 'outgoing') AND duration_s > 0) AS connected,
    maxState(started_at) AS last_started
FROM calls WHERE client_key != ''
GROUP BY company_id, client
;

INSERT INTO client_calls
SELECT company_id, client,
    uniqExactState(cityHash64(device_id, client_call_id)),
    uniqExactIfState(cityHash64(device_id, client_call_id),
        type IN ('incoming', 'outgoing') AND duration_s > 0),
    maxState(started_at)
FROM calls WHERE client_key != ''
GROUP BY company_id, client
