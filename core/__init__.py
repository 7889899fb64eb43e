"""What more than one service uses: settings, the control plane and ClickHouse, migrations,
errors and HTTP policy, health, topics, tokens, number normalisation and encryption, companies,
FCM pushes and the device-health rule. Imports `schemas/` (contracts) and no service, no faust
and no FastAPI routing (import-linter contracts in pyproject.toml)."""
