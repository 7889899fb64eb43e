-- When a device's control-plane facts (FCM token, SIMs) were last reported, whether FCM said the
-- token is dead, when a sync push was last sent; and each company's staleness threshold.
ALTER TABLE devices ADD COLUMN status_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN fcm_token_invalid_at TIMESTAMP;
ALTER TABLE devices ADD COLUMN sync_pushed_at TIMESTAMP;
ALTER TABLE companies ADD COLUMN stale_after_s INTEGER NOT NULL DEFAULT 21600
