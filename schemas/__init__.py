"""Contracts shared by every service: settings, payloads, Kafka events and migrations."""
