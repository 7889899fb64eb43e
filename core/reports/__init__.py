"""Every manager report's definition (METRICS.md), as plain functions over a company-scoped
ClickHouse: the report API (api/reports) answers them over HTTP, the digest worker
(streams/notices) mails them, so a digest's figures are the report's by construction."""
