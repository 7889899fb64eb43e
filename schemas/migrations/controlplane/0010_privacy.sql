-- Privacy rights and the subscription lifecycle (API.md "Privacy", "Subscription").
-- A company's subscription: `status` is what it was last set to (active | cancelled); from
-- `period_end` on it is deactivated whatever the status, and `export_grace_days` later purged.
-- `retention_days` (null: keep everything) and when retention last ran for it.
ALTER TABLE companies ADD COLUMN status VARCHAR(12) NOT NULL DEFAULT 'active';
ALTER TABLE companies ADD COLUMN period_end TIMESTAMP;
ALTER TABLE companies ADD COLUMN deactivated_at TIMESTAMP;
ALTER TABLE companies ADD COLUMN retention_days INTEGER;
ALTER TABLE companies ADD COLUMN retained_at TIMESTAMP;
-- One erasure: of a client number (`number_key`, its blind index) or of an employee's data
-- (`employee_id`, `devices` a JSON list). While pending every read path leaves its rows out;
-- `issued_at` is when the worker sent ClickHouse its mutations, `done_at` when they finished.
-- A done number erasure forgets its blind index (kept only on the suppression list).
CREATE TABLE erasures (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    kind VARCHAR(8) NOT NULL,
    number_key VARCHAR(32),
    employee_id VARCHAR(36),
    devices TEXT NOT NULL,
    suppress BOOLEAN NOT NULL,
    status VARCHAR(8) NOT NULL,
    counts TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    issued_at TIMESTAMP,
    done_at TIMESTAMP
);
CREATE INDEX erasures_pending ON erasures (status, company_id);
-- Numbers the worker drops from every later upload (calls and contacts) of the company.
CREATE TABLE suppressions (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    number_key VARCHAR(32) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (company_id, number_key)
);
-- The numbers an integration event carries (blind indexes): an erasure finds its events here.
CREATE TABLE hook_event_numbers (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    number_key VARCHAR(32) NOT NULL,
    event_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (company_id, number_key, event_id)
);
-- A whole-company export: the worker writes the zip to `path`; downloadable until expires_at.
CREATE TABLE exports (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    status VARCHAR(8) NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    leased_until TIMESTAMP,
    done_at TIMESTAMP,
    expires_at TIMESTAMP,
    path VARCHAR(500),
    size_bytes BIGINT,
    counts TEXT NOT NULL,
    error VARCHAR(200)
);
CREATE INDEX exports_by_status ON exports (status, requested_at)
