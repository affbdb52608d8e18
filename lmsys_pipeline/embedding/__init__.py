"""Embeddings: models (local or OpenAI-compatible), vector storage, incremental runs, search."""
