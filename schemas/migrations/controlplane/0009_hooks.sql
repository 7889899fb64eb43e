-- REST hooks and their deliveries (API.md "Zapier, webhooks and polling triggers").
-- A subscription: its secret is needed to sign, so it is kept encrypted under the company's
-- data key (never as plaintext, shown once). `failing_since` is the first failed attempt since
-- the last delivered one: five days of that disable the hook.
CREATE TABLE hooks (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    event VARCHAR(20) NOT NULL,
    target_url VARCHAR(2000) NOT NULL,
    numbers VARCHAR(6) NOT NULL,
    secret_enc TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    creator_type VARCHAR(10) NOT NULL,
    creator_id VARCHAR(36) NOT NULL,
    failing_since TIMESTAMP,
    disabled_at TIMESTAMP
);
CREATE INDEX hooks_by_company ON hooks (company_id, event);
-- Every integration event seen while the company had a hook for it, once: its id comes from
-- what it is about, so a replay or a re-upload finds it here and goes no further. The body is
-- the event record (numbers masked, their ciphertext beside them), never a plaintext number.
CREATE TABLE hook_events (
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    id VARCHAR(64) NOT NULL,
    type VARCHAR(20) NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (company_id, id)
);
-- One delivery per (hook, event): a duplicate event is dropped by the primary key.
-- `next_attempt_at` is when it is due; a worker taking it moves it ahead by a lease, so a
-- delivery whose worker died is due again when the lease ends.
CREATE TABLE hook_deliveries (
    hook_id VARCHAR(36) NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    event_id VARCHAR(64) NOT NULL,
    company_id VARCHAR(36) NOT NULL,
    state VARCHAR(10) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (hook_id, event_id)
);
CREATE INDEX hook_deliveries_due ON hook_deliveries (state, next_attempt_at, hook_id);
CREATE TABLE hook_attempts (
    hook_id VARCHAR(36) NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    event_id VARCHAR(64) NOT NULL,
    attempt INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error VARCHAR(200),
    next_attempt_at TIMESTAMP,
    PRIMARY KEY (hook_id, event_id, attempt)
);
CREATE INDEX hook_attempts_by_hook ON hook_attempts (hook_id, at);
-- Events the report API records in the transaction of what they are about (leads): the worker
-- relays them to the integration topic and deletes them, so none is lost while Kafka is down.
CREATE TABLE integration_outbox (
    event_id VARCHAR(64) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX integration_outbox_by_time ON integration_outbox (created_at)
