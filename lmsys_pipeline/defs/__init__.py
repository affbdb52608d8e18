"""Thin Dagster wiring, one folder per stage; the logic lives in the plain modules."""
