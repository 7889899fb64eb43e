-- Per-employee aggregates by local day (core/calls/aggregates.py, DAYS): one row per company,
-- zone, local day in that zone, employee and device, with the columns of call_quarters. The
-- calls worker recomputes the days each batch touched in the company's zone; the days of a
-- company's calls stored before (or of a new zone) are written by the worker's day-rollup round
-- (`rebuild_days`), which then records in the control plane that they are complete
-- (`companies.day_zone`), so nothing is read from here before.
CREATE TABLE IF NOT EXISTS call_days (
    company_id String,
    zone String,
    day Date,
    employee UInt64,
    device_id String,
    incoming UInt32,
    outgoing UInt32,
    missed UInt32,
    voicemail UInt32,
    rejected UInt32,
    blocked UInt32,
    answered_externally UInt32,
    incoming_connected UInt32,
    outgoing_connected UInt32,
    incoming_talk_s UInt64,
    outgoing_talk_s UInt64,
    incoming_longest UInt64,
    outgoing_longest UInt64,
    last_incoming UInt32,
    last_outgoing UInt32,
    last_missed UInt32,
    last_voicemail UInt32,
    last_rejected UInt32,
    last_blocked UInt32,
    last_answered_externally UInt32,
    first_activity UInt32,
    activity_end UInt32,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (company_id, zone, day, employee, device_id)
