-- The zone whose per-employee day aggregates (ClickHouse `call_days`) are complete for the
-- company: the reports read days only while it equals `timezone`. The worker's day-rollup
-- round rebuilds them when it differs, once `timezone_set_at` is a few seconds old (every
-- worker then writes days in the new zone).
ALTER TABLE companies ADD COLUMN day_zone VARCHAR(64);
ALTER TABLE companies ADD COLUMN timezone_set_at TIMESTAMP;
