-- The calls' change feed (GET /v1/changes/calls, api/changes/): a row per stored version of a
-- call, in the order the server stored them (`changed_at`, the server's clock at the insert,
-- then call id and version), so a page is a range of the primary key whatever the history's
-- length. Rows come from every insert into `calls` (the view below), a note sent later
-- (streams/calls/tables.py) and erasures (a tombstone, `deleted = 1`, with no number:
-- core/privacy/mutations.py). Plain MergeTree: a batch the worker stores again after a fault
-- appears again with the same version, which a sync client applies idempotently.
CREATE TABLE IF NOT EXISTS call_changes (
    company_id String,
    changed_at DateTime('UTC'),
    call_id String,
    version UInt64,
    deleted UInt8,
    device_id String,
    client_call_id String,
    employee_id String,
    client_key String,
    number_enc String,
    number_masked String,
    name String,
    type Enum8(
        'incoming' = 1, 'outgoing' = 2, 'missed' = 3, 'voicemail' = 4,
        'rejected' = 5, 'blocked' = 6, 'answered_externally' = 7
    ),
    started_at DateTime('UTC'),
    duration_s UInt32,
    sim_slot Int8,
    note String,
    synced_at DateTime('UTC')
) ENGINE = MergeTree
PARTITION BY toYYYYMM(changed_at)
ORDER BY (company_id, changed_at, call_id, version);

CREATE MATERIALIZED VIEW IF NOT EXISTS call_changes_of_calls TO call_changes AS
SELECT company_id, now() AS changed_at, call_id, version, toUInt8(0) AS deleted, device_id,
    client_call_id, employee_id, client_key, number_enc, number_masked, name, type, started_at,
    duration_s, sim_slot, note, synced_at
FROM calls;

-- The calls stored before, each at its latest version (at its upload time), then the notes sent
-- later that are newer than their call (as the history shows them).
INSERT INTO call_changes (company_id, changed_at, call_id, version, deleted, device_id,
    client_call_id, employee_id, client_key, number_enc, number_masked, name, type, started_at,
    duration_s, sim_slot, note, synced_at)
SELECT company_id, synced_at, call_id, version, 0, device_id, client_call_id, employee_id,
    client_key, number_enc, number_masked, name, type, started_at, duration_s, sim_slot, note,
    synced_at
FROM calls FINAL;

INSERT INTO call_changes (company_id, changed_at, call_id, version, deleted, device_id,
    client_call_id, employee_id, client_key, number_enc, number_masked, name, type, started_at,
    duration_s, sim_slot, note, synced_at)
SELECT company_id, synced_at, call_id, note_version, 0, device_id, client_call_id, employee_id,
    client_key, number_enc, number_masked, name, type, started_at, duration_s, sim_slot,
    latest_note, synced_at
FROM calls FINAL
ANY INNER JOIN (
    SELECT company_id, device_id, client_call_id, note AS latest_note, version AS note_version
    FROM call_notes FINAL
) AS latest_notes USING (company_id, device_id, client_call_id)
WHERE note_version > version
