-- Reports group by employee and list clients; reading strings for every call was the largest
-- cost left in them (measured on 10M calls, BENCHMARKS.md).
-- `employee`: the employee id as a number. Grouping, counting and collecting employees over a
-- number instead of a string made the per-employee-day and per-client scans 1.5-4x faster.
ALTER TABLE calls ADD COLUMN employee UInt64 DEFAULT cityHash64(employee_id)
;

-- Back from `employee` to the id, and the devices each employee's calls came from (an
-- employee filter then reads only those devices' part of `calls`, whose primary key starts
-- with the device): one row per (company, employee, device) after merges; a materialized view
-- adds the rows of every insert into `calls`.
CREATE TABLE IF NOT EXISTS call_employees (
    company_id String,
    employee UInt64,
    employee_id String,
    device_id String
) ENGINE = ReplacingMergeTree
ORDER BY (company_id, employee, device_id)
;

CREATE MATERIALIZED VIEW IF NOT EXISTS call_employees_feed TO call_employees AS
SELECT DISTINCT company_id, employee, employee_id, device_id FROM calls
;

INSERT INTO call_employees SELECT DISTINCT company_id, employee, employee_id, device_id FROM calls
;

-- What a client list shows besides the counts: the masked number (the same for every call
-- of a client) and the latest name the call log gave it (name_version: started_at * 2^32 +
-- tiebreak of the latest call with a name; 0 when none had one, so a call without a name
-- never hides a known one). Per-client lists look up only the clients of the page here
-- instead of reading both strings of every call in range.
CREATE TABLE IF NOT EXISTS call_clients (
    company_id String,
    client UUID,
    masked String,
    known_name String,
    name_version UInt64
) ENGINE = ReplacingMergeTree(name_version)
ORDER BY (company_id, client)
;

CREATE MATERIALIZED VIEW IF NOT EXISTS call_clients_feed TO call_clients AS
SELECT company_id, client, any(number_masked) AS masked,
    argMaxIf(name, toUInt64(toUnixTimestamp(started_at)) * 4294967296 + tiebreak, name != '')
        AS known_name,
    maxIf(toUInt64(toUnixTimestamp(started_at)) * 4294967296 + tiebreak, name != '')
        AS name_version
FROM calls WHERE client_key != ''
GROUP BY company_id, client
;

-- The calls written before: one row each (the view sums up an insert's calls per client first);
-- merges keep the newest name of every client.
INSERT INTO call_clients
SELECT company_id, client, number_masked, name,
    if(name = '', 0, toUInt64(toUnixTimestamp(started_at)) * 4294967296 + tiebreak)
FROM calls WHERE client_key != ''
