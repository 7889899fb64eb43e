"""Contracts only: the agent's payloads and their JSON Schema, Kafka events, the column bounds
they follow, and the numbered SQL migrations. No infrastructure (that is `core/`)."""
