-- Follow-ups (API.md "Leads"): a time to call a client back, on a lead or a bare number, for
-- an employee. The number as leads hold theirs (blind index, ciphertext, mask); `reminded_at`:
-- when the worker pushed the reminder and sent `followup.due` (once); `done_at` and
-- `done_by_call`: completed by hand or by the first connected call with the client after the
-- follow-up was made.
CREATE TABLE followups (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    lead_id VARCHAR(36) REFERENCES leads (id) ON DELETE CASCADE,
    number_key VARCHAR(32) NOT NULL,
    number_enc TEXT NOT NULL,
    number_masked VARCHAR(32) NOT NULL,
    employee_id VARCHAR(36) REFERENCES employees (id),
    due_at TIMESTAMP NOT NULL,
    note TEXT,
    created_at TIMESTAMP NOT NULL,
    reminded_at TIMESTAMP,
    done_at TIMESTAMP,
    done_by_call VARCHAR(64)
);
CREATE INDEX followups_by_company ON followups (company_id, done_at, due_at);
CREATE INDEX followups_by_number ON followups (company_id, number_key);
CREATE INDEX followups_due ON followups (reminded_at, done_at, due_at);
