-- Per employee and client, in a zone (core/calls/client_states.py): the start of the latest call
-- at each local hour of the day (`hour_0` .. `hour_23`) and on each local weekday (`weekday_1`
-- Monday .. `weekday_7` Sunday) of the company's zone, so the analytics by hour of day and by
-- weekday count their unique clients over a range that ends after the company's latest call
-- from a row per (employee, client) instead of every call of the range. Kept with the other
-- client states (recomputed for the clients a batch touched, the same version, the same
-- lifecycle); written in the zone the worker knows the company by, rebuilt in a new zone with
-- its days, read only in the zone the days are complete in (`companies.day_zone`).
--
-- Unix seconds (0: none); a row whose `last_call` is 0 is an employee who no longer has a call
-- with the client, as in `employee_clients`.
CREATE TABLE IF NOT EXISTS client_hours (
    company_id String,
    zone String,
    client UUID,
    employee UInt64,
    last_call UInt32,
    hour_0 UInt32,
    hour_1 UInt32,
    hour_2 UInt32,
    hour_3 UInt32,
    hour_4 UInt32,
    hour_5 UInt32,
    hour_6 UInt32,
    hour_7 UInt32,
    hour_8 UInt32,
    hour_9 UInt32,
    hour_10 UInt32,
    hour_11 UInt32,
    hour_12 UInt32,
    hour_13 UInt32,
    hour_14 UInt32,
    hour_15 UInt32,
    hour_16 UInt32,
    hour_17 UInt32,
    hour_18 UInt32,
    hour_19 UInt32,
    hour_20 UInt32,
    hour_21 UInt32,
    hour_22 UInt32,
    hour_23 UInt32,
    weekday_1 UInt32,
    weekday_2 UInt32,
    weekday_3 UInt32,
    weekday_4 UInt32,
    weekday_5 UInt32,
    weekday_6 UInt32,
    weekday_7 UInt32,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, zone, client, employee)
