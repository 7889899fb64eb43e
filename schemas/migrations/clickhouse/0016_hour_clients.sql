-- Unique clients per local hour of the company's zone (core/calls/day_clients.py, HOUR): the
-- analytics hour series' distinct count, as day_clients (0012) holds the day series'.
-- `hours_version`: the version of the whole company's hour (`company_hours`, 0015) the figure
-- was counted at; a figure whose version is no longer the hour's is stale (its hour is counted
-- from the calls). Written by the worker's round, never while an erasure is pending.
CREATE TABLE IF NOT EXISTS hour_clients (
    company_id String,
    zone String,
    hour DateTime('UTC'),
    unique_clients UInt32,
    hours_version UInt64
) ENGINE = ReplacingMergeTree(hours_version)
PARTITION BY toYYYYMM(hour)
ORDER BY (company_id, zone, hour)
