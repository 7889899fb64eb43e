-- Sign-in (API.md "Users, roles and sign-in"): access tokens kept as digests, failed logins for
-- the lockout (by the digest of the email, known or not), TOTP per user with the last time
-- step used (an OTP is accepted once).
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMP;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
CREATE TABLE access_tokens (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX access_tokens_by_user ON access_tokens (user_id);
CREATE TABLE login_failures (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    email_hash VARCHAR(64) NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_by_email ON login_failures (email_hash, failed_at)
