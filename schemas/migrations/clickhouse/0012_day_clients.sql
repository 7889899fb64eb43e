-- Unique clients per local day of the company's zone (core/calls/day_clients.py): the analytics
-- day series' distinct count. `days_version`: the sum of the versions of the day's `call_days`
-- rows the figure was counted at; a figure whose sum is no longer the day's is stale (its day is
-- counted from the calls). Written by the worker's round, never while an erasure is pending.
CREATE TABLE IF NOT EXISTS day_clients (
    company_id String,
    zone String,
    day Date,
    unique_clients UInt32,
    days_version UInt64
) ENGINE = ReplacingMergeTree(days_version)
ORDER BY (company_id, zone, day)
