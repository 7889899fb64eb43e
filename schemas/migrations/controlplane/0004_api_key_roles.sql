-- An API key acts with a role (API.md "Users, roles"): admin by default, never owner. Keys made
-- before roles existed become admin.
ALTER TABLE api_keys ADD COLUMN role VARCHAR(20) NOT NULL DEFAULT 'admin'
