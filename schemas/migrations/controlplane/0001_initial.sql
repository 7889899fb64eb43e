-- Companies, their users and keys, employees, devices and enrollment codes.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE companies (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    name VARCHAR(200) NOT NULL,
    country VARCHAR(2) NOT NULL,
    timezone VARCHAR(64) NOT NULL,
    plan VARCHAR(20) NOT NULL,
    wrapped_data_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    email VARCHAR(320) NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role VARCHAR(20) NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    name VARCHAR(200) NOT NULL,
    prefix VARCHAR(16) NOT NULL,
    secret_hash VARCHAR(64) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX api_keys_company ON api_keys (company_id);

CREATE TABLE employees (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    name VARCHAR(200) NOT NULL,
    phone VARCHAR(64),
    email VARCHAR(320),
    team VARCHAR(200),
    tracking_enabled BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX employees_company ON employees (company_id, created_at);

CREATE TABLE enrollment_codes (
    code_hash VARCHAR(64) PRIMARY KEY NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    employee_id VARCHAR(36) NOT NULL REFERENCES employees (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE devices (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    company_id VARCHAR(36) NOT NULL REFERENCES companies (id),
    employee_id VARCHAR(36) NOT NULL REFERENCES employees (id),
    hardware_id VARCHAR(128) NOT NULL,
    brand VARCHAR(64) NOT NULL,
    model VARCHAR(128) NOT NULL,
    android_version VARCHAR(32) NOT NULL,
    sdk_int INTEGER NOT NULL,
    app_version VARCHAR(64) NOT NULL,
    app_version_code INTEGER NOT NULL,
    fcm_token TEXT,
    sims TEXT NOT NULL,
    enrolled_at TIMESTAMP NOT NULL,
    UNIQUE (company_id, hardware_id)
);

CREATE TABLE device_tokens (
    token_hash VARCHAR(64) PRIMARY KEY NOT NULL,
    device_id VARCHAR(36) NOT NULL REFERENCES devices (id),
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX device_tokens_device ON device_tokens (device_id);
