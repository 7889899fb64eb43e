-- One row per contact number, encrypted like call numbers; re-uploads replace themselves.
CREATE TABLE IF NOT EXISTS contacts (
    company_id String,
    device_id String,
    employee_id String,
    contact_id String,
    name String,
    client_key String,
    number_enc String,
    number_masked String,
    photo_url String,
    synced_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, device_id, contact_id, client_key);

-- Notes written after a call; the history shows whichever of this and the call's own note is newer.
CREATE TABLE IF NOT EXISTS call_notes (
    company_id String,
    device_id String,
    client_call_id String,
    note String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (company_id, device_id, client_call_id)
