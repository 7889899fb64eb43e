-- An employee who left is archived (kept for their history, hidden from lists); a lost or
-- replaced phone is revoked (its tokens too) until it is enrolled again.
ALTER TABLE employees ADD COLUMN archived_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN revoked_at TIMESTAMP
