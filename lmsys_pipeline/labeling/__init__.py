"""What summary runs and hierarchy runs share: asking a server for strict-JSON answers
(``llm.py``, ``completions.py``, ``providers.py``, ``answers.py``, ``labels.py``,
``bounds.py``), the answer cache (``cache.py``), the ledger, lease and flow of an alias run
(``ledger.py``, ``lease.py``, ``alias_run.py``), the server's throughput (``settings.py``) and
class-based TF-IDF (``tfidf.py``). It sits below ``summarizing`` and ``hierarchy`` and imports
neither."""
