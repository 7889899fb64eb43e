-- Digests, notifications and policy versions (core/notices).
-- A user's digest: `daily` | `weekly` | `off` at a local time of the company's zone ("HH:MM");
-- null means the role's default (daily at 08:00 for owner, admin and manager; off for viewer).
ALTER TABLE users ADD COLUMN digest_frequency VARCHAR(8);
ALTER TABLE users ADD COLUMN digest_time VARCHAR(5);
-- A rep's own digest: sent to employees with an email when the company turns it on (admin);
-- an employee's one-click unsubscribe stops theirs.
ALTER TABLE companies ADD COLUMN rep_digests BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE employees ADD COLUMN digest_off_at TIMESTAMP;
-- The digest sent-log: one row per recipient (a user's or an employee's id) and local day,
-- inserted in the transaction that queues the mail, so a second worker or a restarted one finds
-- the day taken and sends nothing.
CREATE TABLE digest_log (
    recipient_id VARCHAR(36) NOT NULL,
    local_day VARCHAR(10) NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    kind VARCHAR(8) NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    mail_id VARCHAR(36) NOT NULL,
    unsubscribe_hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (recipient_id, local_day)
);
CREATE INDEX digest_log_unsubscribe ON digest_log (unsubscribe_hash);
-- What the console's notification list shows, one row per user told; `notice_key` makes each
-- notice once per user whatever restarts (a deactivation's key holds the period's end).
CREATE TABLE notifications (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    user_id VARCHAR(36) NOT NULL REFERENCES users (id),
    notice_key VARCHAR(200) NOT NULL,
    at TIMESTAMP NOT NULL,
    kind VARCHAR(40) NOT NULL,
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL,
    link VARCHAR(300),
    read_at TIMESTAMP
);
CREATE UNIQUE INDEX notifications_key ON notifications (user_id, notice_key);
CREATE INDEX notifications_user_at ON notifications (user_id, at);
-- Mail gains an HTML part, its headers (JSON: List-Unsubscribe ...), the company it is about
-- (null for mail that outlives the company, such as the purge's) and what it is (`digest`, a
-- notification's kind), so a permanent failure can be shown to the company's admins.
ALTER TABLE mail_outbox ADD COLUMN html TEXT;
ALTER TABLE mail_outbox ADD COLUMN headers TEXT;
ALTER TABLE mail_outbox ADD COLUMN company_id VARCHAR(36);
ALTER TABLE mail_outbox ADD COLUMN purpose VARCHAR(40);
-- The operator's published policy versions, and who accepted which (with the sign-up's age
-- attestation in the audit log beside it).
CREATE TABLE policies (
    kind VARCHAR(10) NOT NULL,
    version VARCHAR(40) NOT NULL,
    url VARCHAR(500) NOT NULL,
    published_at TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, version)
);
CREATE TABLE policy_acceptances (
    user_id VARCHAR(36) NOT NULL REFERENCES users (id),
    kind VARCHAR(10) NOT NULL,
    version VARCHAR(40) NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    accepted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, kind, version)
);
