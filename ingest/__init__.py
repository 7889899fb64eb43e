"""The device-facing ingest service: authenticates phones, validates uploads, produces to Kafka."""
