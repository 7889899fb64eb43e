-- Billing (core/billing): a subscription ends only for a reason. `ended_at` is when the company
-- is deactivated: the end of a cancelled period, or the moment a provider stopped it for
-- non-payment; null for trialing, active and past-due companies whatever `period_end` says
-- (`period_end` is the paid period's end, shown, never acted on alone). `end_reason`:
-- cancelled | non_payment. `cancel_reason` is what the owner gave. `pending_plan`: a downgrade
-- waiting for the end of the period paid at the higher plan.
ALTER TABLE companies ADD COLUMN ended_at TIMESTAMP;
ALTER TABLE companies ADD COLUMN end_reason VARCHAR(16);
ALTER TABLE companies ADD COLUMN cancel_reason VARCHAR(1000);
ALTER TABLE companies ADD COLUMN pending_plan VARCHAR(20);
-- Under the old rule a period's end deactivated any company: those it already deactivated stay
-- so (the operator's billing ended them), cancelled ones end at their period's end.
UPDATE companies SET ended_at = period_end, end_reason = 'cancelled'
    WHERE status = 'cancelled' AND period_end IS NOT NULL;
UPDATE companies SET status = 'deactivated', ended_at = period_end, end_reason = 'non_payment'
    WHERE status = 'active' AND deactivated_at IS NOT NULL AND period_end IS NOT NULL;
-- A company's subscription at a provider, as its events last told it (core/billing/state.py):
-- each field holds the value of the newest event that set it (`*_key`: that event's provider
-- time, rank and id), so events applied in any order end in the same state.
CREATE TABLE billing_accounts (
    company_id VARCHAR(36) NOT NULL PRIMARY KEY REFERENCES companies (id),
    provider VARCHAR(16) NOT NULL,
    customer_id VARCHAR(100),
    customer_key VARCHAR(120) NOT NULL DEFAULT '',
    subscription_id VARCHAR(100),
    subscription_key VARCHAR(120) NOT NULL DEFAULT '',
    status VARCHAR(16),
    status_key VARCHAR(120) NOT NULL DEFAULT '',
    status_ends_at TIMESTAMP,
    status_since TIMESTAMP,
    cancel_reason VARCHAR(1000),
    latest_plan VARCHAR(20),
    plan_key VARCHAR(120) NOT NULL DEFAULT '',
    period_end TIMESTAMP,
    period_plan VARCHAR(20)
);
CREATE INDEX billing_accounts_subscription ON billing_accounts (provider, subscription_id);
-- Every provider event applied, by its id: a replay finds its row and changes nothing.
CREATE TABLE billing_events (
    provider VARCHAR(16) NOT NULL,
    event_id VARCHAR(100) NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    kind VARCHAR(60) NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX billing_events_company ON billing_events (company_id);
-- The invoices and refunds the provider reported, for the owner's billing page.
CREATE TABLE billing_invoices (
    provider VARCHAR(16) NOT NULL,
    invoice_id VARCHAR(100) NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    number VARCHAR(100),
    status VARCHAR(16) NOT NULL,
    amount BIGINT NOT NULL,
    currency VARCHAR(3) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    url VARCHAR(1000),
    PRIMARY KEY (provider, invoice_id)
);
CREATE INDEX billing_invoices_company ON billing_invoices (company_id, created_at);
