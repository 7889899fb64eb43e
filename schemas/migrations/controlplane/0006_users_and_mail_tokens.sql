-- Users beyond the owner (API.md "Users, roles and sign-in"): limited to teams (a JSON array,
-- empty for the whole company), disabled; single-use tokens mailed for invitations (72 h) and
-- password resets (1 h), kept as digests.
ALTER TABLE users ADD COLUMN teams TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;
CREATE TABLE user_tokens (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id VARCHAR(36) NOT NULL REFERENCES users (id),
    purpose VARCHAR(10) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
)
