-- The leads' change feed (API.md "Change feeds"): every lead at the position of its last change
-- (`leads.feed_seq`, taken under the company's lead lock), read by position; a deleted lead
-- leaves its id at the position of its deletion.
CREATE INDEX leads_by_change ON leads (company_id, feed_seq);
CREATE TABLE lead_deletions (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    seq BIGINT NOT NULL,
    lead_id VARCHAR(36) NOT NULL,
    PRIMARY KEY (company_id, seq)
);
