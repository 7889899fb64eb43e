-- Per-employee aggregates (core/calls/aggregates.py): one row per company, quarter hour (UTC),
-- employee and device, recomputed by the calls worker from `calls FINAL` for the keys each
-- batch touched (so replays and re-sent calls write the same row again; the newest `version`
-- wins). The counting reports read these instead of every call of their range.
-- last_*, first_activity and activity_end are Unix seconds (0, or 4294967295 for
-- first_activity, when the quarter has no such call).
CREATE TABLE IF NOT EXISTS call_quarters (
    company_id String,
    quarter DateTime('UTC'),
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
PARTITION BY toYYYYMM(quarter)
ORDER BY (company_id, quarter, employee, device_id)
;

-- The calls stored before: the same aggregates, at the newest version of each key's calls (a
-- worker writing the same key meanwhile writes at its batch's version, never older).
INSERT INTO call_quarters
SELECT company_id, toStartOfFifteenMinutes(started_at) AS quarter, employee, device_id,
    toUInt32(sum(type = 'incoming')) AS incoming,
    toUInt32(sum(type = 'outgoing')) AS outgoing,
    toUInt32(sum(type = 'missed')) AS missed,
    toUInt32(sum(type = 'voicemail')) AS voicemail,
    toUInt32(sum(type = 'rejected')) AS rejected,
    toUInt32(sum(type = 'blocked')) AS blocked,
    toUInt32(sum(type = 'answered_externally')) AS answered_externally,
    toUInt32(sum((type = 'incoming' AND duration_s > 0))) AS incoming_connected,
    toUInt32(sum((type = 'outgoing' AND duration_s > 0))) AS outgoing_connected,
    sum(if((type = 'incoming' AND duration_s > 0), toUInt64(duration_s), 0)) AS incoming_talk_s,
    sum(if((type = 'outgoing' AND duration_s > 0), toUInt64(duration_s), 0)) AS outgoing_talk_s,
    max(if((type = 'incoming' AND duration_s > 0), toUInt64(duration_s) * 4294967296 + toUnixTimestamp(started_at), 0)) AS incoming_longest,
    max(if((type = 'outgoing' AND duration_s > 0), toUInt64(duration_s) * 4294967296 + toUnixTimestamp(started_at), 0)) AS outgoing_longest,
    max(if(type = 'incoming', toUnixTimestamp(started_at), 0)) AS last_incoming,
    max(if(type = 'outgoing', toUnixTimestamp(started_at), 0)) AS last_outgoing,
    max(if(type = 'missed', toUnixTimestamp(started_at), 0)) AS last_missed,
    max(if(type = 'voicemail', toUnixTimestamp(started_at), 0)) AS last_voicemail,
    max(if(type = 'rejected', toUnixTimestamp(started_at), 0)) AS last_rejected,
    max(if(type = 'blocked', toUnixTimestamp(started_at), 0)) AS last_blocked,
    max(if(type = 'answered_externally', toUnixTimestamp(started_at), 0)) AS last_answered_externally,
    min(if((type IN ('outgoing', 'rejected') OR (type = 'incoming' AND duration_s > 0)), toUnixTimestamp(started_at), 4294967295)) AS first_activity,
    max(if((type IN ('outgoing', 'rejected') OR (type = 'incoming' AND duration_s > 0)), toUnixTimestamp(started_at) + duration_s, 0)) AS activity_end,
    max(version) AS version
FROM calls FINAL
GROUP BY company_id, quarter, employee, device_id
