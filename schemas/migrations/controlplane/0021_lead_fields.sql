-- A company's own lead fields (API.md "Leads"): declared by an admin, each a text, number,
-- date or choice (its choices as a JSON array); a lead's values by field key as a JSON object.
CREATE TABLE lead_fields (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    field_key VARCHAR(40) NOT NULL,
    label VARCHAR(100) NOT NULL,
    kind VARCHAR(8) NOT NULL,
    choices TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (company_id, field_key)
);
ALTER TABLE leads ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
