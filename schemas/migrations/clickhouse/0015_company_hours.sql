-- The whole company's aggregates per local hour (core/calls/aggregates.py, COMPANY_HOURS): one
-- row per company, zone and local hour, the fold of that hour's `call_hours` rows (sums, the
-- latest and longest as maxima, the first activity as a minimum) at the sum of their versions,
-- which only grows as those rows are replaced, so the newest fold wins whoever writes it. The
-- series of a whole company (no employee filter, nothing hidden by a pending erasure) read a
-- row per hour instead of one per employee and hour: 4,320 rows for 180 days, whatever the
-- team's size. Recomputed by the calls worker after its `call_hours` rows for the local days
-- a batch touched, by the day-rollup round with the hours it rebuilds, by an erasure after the
-- rows it rewrites; deleted with their hours (retention, purge, another zone's rows).
CREATE TABLE IF NOT EXISTS company_hours (
    company_id String,
    zone String,
    hour DateTime('UTC'),
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
ORDER BY (company_id, zone, hour)
;

-- The hours stored before, folded (a worker folding the same hour meanwhile reads at least
-- this state: its sum of versions is the same or greater)
INSERT INTO company_hours
SELECT company_id, zone, hour,
    sum(incoming),
    sum(outgoing),
    sum(missed),
    sum(voicemail),
    sum(rejected),
    sum(blocked),
    sum(answered_externally),
    sum(incoming_connected),
    sum(outgoing_connected),
    sum(incoming_talk_s),
    sum(outgoing_talk_s),
    max(incoming_longest),
    max(outgoing_longest),
    max(last_incoming),
    max(last_outgoing),
    max(last_missed),
    max(last_voicemail),
    max(last_rejected),
    max(last_blocked),
    max(last_answered_externally),
    min(first_activity),
    max(activity_end),
    sum(version)
FROM call_hours FINAL
GROUP BY company_id, zone, hour
