-- The audit log (API.md "Privacy"): append-only, one row per audited action. `id` sorts by
-- time (microseconds, then random digits), so the log pages newest first by id alone.
CREATE TABLE audit_log (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    at TIMESTAMP NOT NULL,
    actor_type VARCHAR(10) NOT NULL,
    actor_id VARCHAR(36) NOT NULL,
    action VARCHAR(40) NOT NULL,
    target VARCHAR(200) NOT NULL,
    ip VARCHAR(45) NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_by_company ON audit_log (company_id, id)
