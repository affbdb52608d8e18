"""Ingestion: LMSYS-layout conversations into ``Query`` rows (plain functions, no Dagster)."""
