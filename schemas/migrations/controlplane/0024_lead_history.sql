-- A lead's history (API.md "Leads", `GET /v1/leads/{lead_id}`): its creation, each change of
-- employee and each edit, at the feed position of the change (core/leads/feed.py; creation and
-- a first assignment share one). `fields` names the fields an edit changed, never their values
-- (numbers among them). Leads made before this migration get their creation and, when they
-- have one, their current assignment.
CREATE TABLE lead_history (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    lead_id VARCHAR(36) NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind VARCHAR(10) NOT NULL,
    at TIMESTAMP NOT NULL,
    employee_id VARCHAR(36),
    fields TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (company_id, lead_id, seq, kind)
);
INSERT INTO lead_history (company_id, lead_id, seq, kind, at, employee_id, fields)
SELECT company_id, id, 0, 'created', created_at, NULL, '[]' FROM leads;
INSERT INTO lead_history (company_id, lead_id, seq, kind, at, employee_id, fields)
SELECT company_id, id, feed_seq, 'assigned', assigned_at, employee_id, '[]' FROM leads
WHERE employee_id IS NOT NULL AND assigned_at IS NOT NULL;
