"""Dagster wiring of hierarchy runs: the ``cluster_hierarchy`` asset and its checks."""
