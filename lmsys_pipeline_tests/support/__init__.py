"""Helpers that several test modules and the benchmarks share: small results built through
the pipeline (``pipeline_data``), conversation rows (``rows``), a throwaway PostgreSQL server
(``postgres``), a loopback OpenAI-compatible server (``openai_server``), the explorer served to
a headless Chromium (``web``), and smaller pieces. Support modules import only the package and
each other; test modules import from here, never from another ``test_*.py``, and benchmarks
import nothing else from the tests."""
