-- One row per call; ReplacingMergeTree keeps the latest version of each
-- (company_id, device_id, client_call_id), so replays and re-uploads count once.
-- Reports read it with FINAL. No plaintext number: number_enc is AES-GCM,
-- client_key the keyed blind index ('' for calls without a usable number).
CREATE TABLE IF NOT EXISTS calls (
    company_id String,
    device_id String,
    client_call_id String,
    call_id String,
    employee_id String,
    client_key String,
    number_enc String,
    number_masked String,
    name String,
    type String,
    started_at DateTime('UTC'),
    duration_s UInt32,
    sim_slot Int8,
    note String,
    synced_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (company_id, device_id, client_call_id)
