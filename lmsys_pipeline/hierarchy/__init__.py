"""Hierarchy runs: parent categories over a clustering run's clusters, level by level."""
