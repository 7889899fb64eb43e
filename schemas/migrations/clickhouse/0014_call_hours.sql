-- Per-employee aggregates by local hour (core/calls/aggregates.py, HOURS): one row per company,
-- zone, local hour of that zone (its start, an instant: the repeated hour of a DST change is its
-- own row), employee and device, with the columns of call_days. A rep's hour holds ~14 calls
-- (a quarter ~3.5), so the series by hour and by hour of day read it instead of the calls. Kept
-- like call_days: recomputed by the calls worker for the hours each batch touched in the
-- company's zone, written for history (and a new zone) by the day-rollup round, read once the
-- control plane says they are complete (`companies.rollup_zone`, its migration 0017).
CREATE TABLE IF NOT EXISTS call_hours (
    company_id String,
    zone String,
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (company_id, zone, hour, employee, device_id)
