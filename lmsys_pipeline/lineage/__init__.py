"""Lineage between clustering runs: which clusters continue, split, merge, appear or go."""
