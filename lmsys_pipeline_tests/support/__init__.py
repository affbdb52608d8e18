"""Helpers that several test modules (and benchmarks) share. Test modules import from here or
from the other support modules (``pipeline_data``, ``postgres``, ``openai_server``), never from
another ``test_*.py``."""
