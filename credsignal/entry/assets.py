"""The Assets the DAGs meet at: each DAG updates some and is scheduled on others, and never reaches into another
DAG's tasks. A crawler announces a new crawl by posting an event for CRAWL_LANDED through Airflow's REST API
(`POST /api/v2/assets/events`, see docs/operations.md)."""

from __future__ import annotations

from airflow.sdk import Asset

BRONZE_PLATFORM = Asset("credsignal://lake/bronze/platform")
CRAWL_LANDED = Asset("credsignal://landing/linkedin")
SILVER_PROFILES = Asset("credsignal://lake/silver/profiles")
CURATED_TABLES = Asset("credsignal://lake/curated")
