-- Leads (API.md "Leads", plan basic_lead). Numbers as in ClickHouse: AES-GCM ciphertext and the
-- masked form in `leads`; the blind index in `lead_numbers`, whose primary key makes two leads of
-- a company sharing a number (primary or secondary) impossible, whatever the code does.
ALTER TABLE employees ADD COLUMN takes_leads BOOLEAN NOT NULL DEFAULT TRUE;
-- Lead writes of a company lock its row (one UPDATE first): `lead_cursor` is the employee the
-- last round-robin assignment went to, `lead_seq` the last position of the phones' change feed.
ALTER TABLE companies ADD COLUMN lead_cursor VARCHAR(36);
ALTER TABLE companies ADD COLUMN lead_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE leads (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    company VARCHAR(200),
    email VARCHAR(320),
    primary_enc TEXT,
    primary_masked VARCHAR(32),
    secondary_enc TEXT,
    secondary_masked VARCHAR(32),
    address VARCHAR(500),
    country VARCHAR(2),
    state VARCHAR(100),
    zip VARCHAR(20),
    notes TEXT,
    employee_id VARCHAR(36) REFERENCES employees (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    feed_seq BIGINT NOT NULL,
    assigned_at TIMESTAMP
);
CREATE INDEX leads_by_company ON leads (company_id, created_at, id);
CREATE INDEX leads_by_employee ON leads (company_id, employee_id, feed_seq);
CREATE INDEX leads_by_assignment ON leads (company_id, assigned_at);
CREATE TABLE lead_numbers (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    number_key VARCHAR(32) NOT NULL,
    lead_id VARCHAR(36) NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    slot VARCHAR(9) NOT NULL,
    PRIMARY KEY (company_id, number_key)
);
CREATE INDEX lead_numbers_by_lead ON lead_numbers (lead_id);
-- The phones' change feed: a lead's last change is at its `feed_seq`; a lead taken from an
-- employee (re-assigned or deleted) leaves a row here at the position it left, so that
-- employee's phone drops it.
CREATE TABLE lead_feed (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    seq BIGINT NOT NULL,
    employee_id VARCHAR(36) NOT NULL,
    lead_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (company_id, seq, lead_id)
);
CREATE INDEX lead_feed_by_employee ON lead_feed (company_id, employee_id, seq)
