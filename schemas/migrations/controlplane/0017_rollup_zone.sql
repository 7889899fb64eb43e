-- The zone a company's zoned rollups are complete in: its local days (`call_days`), local hours
-- (`call_hours`, ClickHouse migration 0014) and clients' local hours and weekdays
-- (`client_hours`), all written by the worker's day-rollup round (core/calls/aggregates.py
-- `rebuild_days`). A new column rather than `day_zone` again: a worker of the previous release,
-- still running during an upgrade, records `day_zone` after writing days alone, which must not
-- let the reports read hours it never wrote. Null for every company: the round rebuilds them
-- all, the reports read the calls meanwhile. `day_zone` is no longer read.
ALTER TABLE companies ADD COLUMN rollup_zone VARCHAR(64);
