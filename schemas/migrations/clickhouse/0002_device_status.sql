-- Every status report of every device; a replayed report replaces itself.
-- has_location = 0: the report carried no location (lat/lon are then 0).
CREATE TABLE IF NOT EXISTS device_status (
    company_id String,
    device_id String,
    employee_id String,
    reported_at DateTime('UTC'),
    received_at DateTime('UTC'),
    battery_pct Int16,
    charging Int8,
    has_location UInt8,
    lat Float64,
    lon Float64,
    accuracy_m Float32,
    located_at DateTime('UTC'),
    app_version String,
    app_version_code UInt32,
    android_version String,
    sdk_int UInt16,
    network String,
    sims String
) ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(reported_at)
ORDER BY (company_id, device_id, reported_at)
