-- Email waits here until the worker's mail sender hands it to the SMTP server (core/mail.py):
-- a request never talks to SMTP, so its answer does not depend on whether mail can go out now.
-- A row is deleted once sent (a reset link's token lives no longer than that). `due_at` is when
-- it is next tried (a sender claims a row by moving it forward: a lease); after the last
-- attempt `failed_at` and `last_error` say why it never went.
CREATE TABLE mail_outbox (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    recipient VARCHAR(320) NOT NULL,
    subject VARCHAR(200) NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    due_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR(200),
    failed_at TIMESTAMP
);
CREATE INDEX mail_outbox_due ON mail_outbox (failed_at, due_at);
-- Ingest sweeps the device tokens revoked in the last seconds out of its cache each second.
CREATE INDEX device_tokens_revoked ON device_tokens (revoked_at);
