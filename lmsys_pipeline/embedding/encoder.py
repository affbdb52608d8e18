"""A fast encoder for sentence-transformers text models: fewer padded tokens, the tokenizer
ahead of the model, reduced precision only on a GPU.

- Texts are tokenized once, sorted by their real token count and cut into batches by a budget
  of padded tokens (``token_budget``), so a batch of short texts is wide and a batch of long
  ones narrow; sentence-transformers sorts by characters and pads fixed batches of 64, which
  on the bundled sample computes about 1.8x the tokens it needs.
- Tokenization runs on worker threads, ``slice_texts`` texts at a time, ahead of the model
  (the Rust tokenizer releases the GIL); each thread has its own tokenizer copy, since one
  fast tokenizer cannot be called from two threads at once.
- On CUDA the model runs in fp16 (bf16 when the checkpoint is bf16), batches are copied from
  pinned host memory, and vectors stay on the device until the call ends. On a CPU it stays
  fp32: the same vectors as sentence-transformers' ``encode``.

``plan_for`` holds every device-dependent number; ``choose_precision`` is the one place that
picks fp16, so a test can drive both without a GPU. Heavy imports stay inside functions.
"""

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import numpy as np

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
# The reduced-precision vectors must stay this close to fp32 (the contract); checked
# on probe texts every time a model is loaded.
MIN_COSINE_TO_FP32 = 0.999


@dataclass(frozen=True)
class DevicePlan:
    """Everything that depends on the device, in one place."""

    device: str
    precision: str  # fp32 | fp16 | bf16
    token_budget: int  # padded tokens per forward batch
    max_batch: int  # texts per forward batch at most
    slice_texts: int  # texts tokenized (and length-sorted) together, on one worker thread
    tokenizer_threads: int
    lookahead: int  # slices tokenized ahead of the model
    chunk_size: int  # queries per committed chunk in embed_pending
    pin_memory: bool


def choose_precision(
    device_type: str, requested: str = "auto", checkpoint_dtype: Any = None
) -> str:
    """fp16 only on a GPU (bf16 when the checkpoint was saved in bf16), fp32 on a CPU, unless
    ``requested`` says otherwise."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested != "auto":
        return requested
    if device_type not in ("cuda", "mps"):
        return "fp32"
    return "bf16" if "bfloat16" in str(checkpoint_dtype) else "fp16"


def plan_for(
    device: str,
    *,
    precision: str = "auto",
    checkpoint_dtype: Any = None,
    gpu_memory_gib: float | None = None,
    cores: int = 2,
    max_batch: int | None = None,
) -> DevicePlan:
    """The plan for ``device`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``). Measured on the
    2-core CPU here (benchmarks/RESULTS.md): ~1,000-2,000 padded tokens per batch were
    fastest; a GPU wants tens of thousands (the issue measured ~64k on an H200)."""
    device_type = device.split(":")[0]
    chosen = choose_precision(device_type, precision, checkpoint_dtype)
    if device_type == "cuda":
        # ~64k tokens per batch on a large GPU, less on a small one (activations of MiniLM are
        # ~40 KB per token in fp16, far below any GPU's memory; the budget bounds latency).
        memory = gpu_memory_gib or 16.0
        budget = 65_536 if memory >= 40 else 32_768 if memory >= 16 else 16_384
        return DevicePlan(
            device=device,
            precision=chosen,
            token_budget=budget,
            max_batch=max_batch or 4_096,
            slice_texts=8_192,
            tokenizer_threads=max(2, min(8, cores // 2)),
            lookahead=max(2, min(8, cores // 2)),
            chunk_size=65_536 if memory >= 40 else 32_768,
            pin_memory=True,
        )
    if device_type == "mps":
        return DevicePlan(device, chosen, 16_384, max_batch or 1_024, 4_096, 2, 2, 16_384, False)
    return DevicePlan(
        device=device,
        precision=chosen,
        token_budget=2_048,
        max_batch=max_batch or 128,
        slice_texts=1 << 30,  # one slice per call: sorted across the whole chunk
        tokenizer_threads=1,
        lookahead=1,
        chunk_size=4_096,
        pin_memory=False,
    )


def token_batches(lengths: np.ndarray, budget: int, max_batch: int) -> list[tuple[int, int]]:
    """(start, stop) ranges over ``lengths`` sorted longest first, each batch padding to its
    first (longest) text and staying within ``budget`` padded tokens (a single text longer than
    the budget gets a batch of its own)."""
    ranges = []
    start, count = 0, len(lengths)
    while start < count:
        size = max(1, min(max_batch, budget // max(1, int(lengths[start]))))
        ranges.append((start, min(count, start + size)))
        start += size
    return ranges


@dataclass
class Batch:
    """One forward batch: ``positions`` are the texts' places in the call's input."""

    positions: np.ndarray
    features: dict[str, Any]


def pad_batch(
    ids: Sequence[Sequence[int]], pad_id: int, *, left: bool, type_ids: bool
) -> dict[str, np.ndarray]:
    """input_ids / attention_mask (/ token_type_ids) as int64 matrices padded to the longest."""
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max()) if len(lengths) else 0
    columns = np.arange(width)
    mask = columns >= (width - lengths)[:, None] if left else columns < lengths[:, None]
    matrix = np.full((len(ids), width), pad_id, dtype=np.int64)
    # Row-major order of the mask is the concatenation order of the rows, either side.
    matrix[mask] = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    features = {"input_ids": matrix, "attention_mask": mask.astype(np.int64)}
    if type_ids:
        features["token_type_ids"] = np.zeros_like(matrix)
    return features


class Tokenizers:
    """One backend tokenizer per thread (truncating to the model's window, never padding)."""

    def __init__(self, fast_tokenizer: Any, max_length: int):
        self._json = fast_tokenizer.backend_tokenizer.to_str()
        self._side = fast_tokenizer.truncation_side
        self._max_length = max_length
        self._local = threading.local()

    def get(self) -> Any:
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(self._json)
            tokenizer.no_padding()
            tokenizer.enable_truncation(self._max_length, direction=self._side)
            self._local.tokenizer = tokenizer
        return tokenizer

    def ids(self, texts: list[str]) -> list[list[int]]:
        tokenizer = self.get()
        encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
        return [encoding.ids for encoding in encode(texts, add_special_tokens=True)]


def fast_path_refusal(model: Any) -> str | None:
    """Why this sentence-transformers model must go through ``encode`` (None: it need not)."""
    from sentence_transformers.models import Transformer

    first = model[0] if len(model) else None
    if not isinstance(first, Transformer):
        return f"its first module is {type(first).__name__}, not a Transformer"
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return "it has no fast tokenizer"
    if getattr(first, "do_lower_case", False):
        return "it lower-cases its input"
    if getattr(model, "default_prompt_name", None):
        return "it adds a default prompt"
    return None


class FastEncoder:
    """``encode(texts) -> float32 unit vectors`` for a loaded SentenceTransformer (already on
    ``plan.device``; cast to the plan's precision here)."""

    def __init__(self, model: Any, plan: DevicePlan):
        import torch

        self.plan = plan
        self.model = model
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
        self._dtype = dtype[plan.precision]
        model.to(self._dtype)
        model.eval()
        tokenizer = model.tokenizer
        self._pad_id = tokenizer.pad_token_id or 0
        self._left = tokenizer.padding_side == "left"
        self._type_ids = "token_type_ids" in tokenizer.model_input_names
        self.tokenizers = Tokenizers(tokenizer, int(model.max_seq_length))
        self._executor: ThreadPoolExecutor | None = None

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def prepare(self, texts: list[str], offset: int = 0) -> list[Batch]:
        """Tokenizes, sorts longest first and pads ``texts`` into budgeted batches (runs on a
        worker thread; pins the batches when the plan says so)."""
        import torch

        ids = self.tokenizers.ids(texts)
        lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        batches = []
        for start, stop in token_batches(
            lengths[order], self.plan.token_budget, self.plan.max_batch
        ):
            chosen = order[start:stop]
            arrays = pad_batch(
                [ids[i] for i in chosen], self._pad_id, left=self._left, type_ids=self._type_ids
            )
            features = {name: torch.from_numpy(array) for name, array in arrays.items()}
            if self.plan.pin_memory:
                features = {name: tensor.pin_memory() for name, tensor in features.items()}
            batches.append(Batch(chosen + offset, features))
        return batches

    def prepared(self, texts: list[str]) -> Iterator[Batch]:
        """Batches of all ``texts`` in slice order, ``plan.lookahead`` slices tokenized ahead
        on ``plan.tokenizer_threads`` worker threads (one slice: tokenized right here)."""
        step = self.plan.slice_texts
        if len(texts) <= step:
            yield from self.prepare(texts)
            return
        starts = iter(range(0, len(texts), step))
        pending: deque[Future[list[Batch]]] = deque()

        def submit_next() -> None:
            start = next(starts, None)
            if start is not None:
                pending.append(
                    self._pool().submit(self.prepare, texts[start : start + step], start)
                )

        for _ in range(max(1, self.plan.lookahead)):
            submit_next()
        while pending:
            batches = pending.popleft().result()
            submit_next()
            yield from batches

    def _pool(self) -> ThreadPoolExecutor:
        """Worker threads kept for the encoder's life, so each builds its tokenizer once."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.plan.tokenizer_threads, "lmsys-tokenize")
        return self._executor

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        device = torch.device(self.plan.device)
        out = torch.empty((len(texts), self.dimension), dtype=torch.float32, device=device)
        with torch.inference_mode():
            for batch in self.prepared(texts):
                features = {
                    name: tensor.to(device, non_blocking=self.plan.pin_memory)
                    for name, tensor in batch.features.items()
                }
                vectors = self.model(features)["sentence_embedding"].float()
                positions = torch.from_numpy(batch.positions).to(device, non_blocking=True)
                out[positions] = torch.nn.functional.normalize(vectors, dim=1)
        return out.cpu().numpy()


PROBE_TEXTS = [
    "How do I reset my password?",
    "写一首关于春天的短诗。要押韵。",
    "Explain the difference between a list and a tuple in Python, with examples. " * 30,
    "ok",
]


def verified_fast_encoder(
    model: Any, plan: DevicePlan, reference: Callable[[list[str]], np.ndarray]
) -> tuple[FastEncoder | None, str]:
    """A ``FastEncoder`` whose vectors on probe texts (short, CJK, longer than the window) are
    within ``MIN_COSINE_TO_FP32`` of ``reference`` (sentence-transformers' fp32 ``encode``),
    with a note saying what runs; else None and why. Falls back to fp32 before giving up."""
    refusal = fast_path_refusal(model)
    if refusal:
        return None, f"sentence-transformers encode ({refusal})"
    expected = reference(PROBE_TEXTS)
    for candidate in dict.fromkeys([plan, replace(plan, precision="fp32")]):
        encoder = FastEncoder(model, candidate)
        cosine = float(np.min(np.sum(encoder.encode(PROBE_TEXTS) * expected, axis=1)))
        if cosine >= MIN_COSINE_TO_FP32:
            return encoder, f"fast encoder, {candidate.precision} on {candidate.device}"
    return None, f"sentence-transformers encode (fast path off by {1 - cosine:.1e} in cosine)"
