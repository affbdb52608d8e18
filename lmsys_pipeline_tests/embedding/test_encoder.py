"""The fast encoder: the same vectors as sentence-transformers' encode on a CPU, its GPU-only
parts (budgeted batches, ordering, tokenizer threads ahead of the model, reduced precision)
exercised here without a GPU, and fp16 chosen only for a GPU."""

from dataclasses import replace

import numpy as np
import pytest

from lmsys_pipeline.embedding.embedders import auto_device, load_embedder
from lmsys_pipeline.embedding.encoder import (
    FastEncoder,
    choose_precision,
    pad_batch,
    plan_for,
    token_batches,
    verified_fast_encoder,
)
from lmsys_pipeline.ingestion.sources import bundled_sample_path


@pytest.fixture(scope="module")
def sample_texts() -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(bundled_sample_path(), columns=["conversation"])
    texts = [c[0]["content"].strip() for c in table.column(0).to_pylist()]
    rng = np.random.default_rng(0)
    chosen = [texts[i] for i in rng.choice(len(texts), 60, replace=False)]
    return [*chosen, "写一首关于春天的短诗", "word " * 600, "ok"]  # CJK, past the window


def test_batches_keep_to_the_token_budget_and_cover_every_text():
    lengths = np.array([300, 256, 100, 90, 40, 40, 12, 12, 12, 3, 3])
    batches = token_batches(lengths, budget=256, max_batch=4)
    assert batches[0] == (0, 1) and batches[1] == (1, 2)  # alone when over the budget
    assert [i for start, stop in batches for i in range(start, stop)] == list(range(11))
    for start, stop in batches[1:]:
        assert (stop - start) * lengths[start] <= 256 and stop - start <= 4


@pytest.mark.parametrize("left", [False, True])
def test_padding_puts_every_token_in_its_place(left):
    rows = [[101, 7, 8, 102], [101, 9, 102], [101, 102]]
    features = pad_batch(rows, pad_id=0, left=left, type_ids=True)
    for row, ids, mask in zip(rows, features["input_ids"], features["attention_mask"], strict=True):
        kept = ids[mask.astype(bool)]
        assert kept.tolist() == row and mask.sum() == len(row)
        assert (ids[~mask.astype(bool)] == 0).all()
        assert bool(mask[0]) != left or len(row) == 4  # left padding starts with pads
    assert features["token_type_ids"].shape == features["input_ids"].shape


def test_fp16_is_chosen_only_for_a_gpu():
    assert choose_precision("cpu") == "fp32"
    assert choose_precision("cuda") == "fp16" and choose_precision("mps") == "fp16"
    assert choose_precision("cuda", checkpoint_dtype="torch.bfloat16") == "bf16"
    assert choose_precision("cpu", "bf16") == "bf16"  # only when asked for
    with pytest.raises(ValueError, match="precision"):
        choose_precision("cuda", "int8")
    gpu, cpu = plan_for("cuda:0", gpu_memory_gib=141, cores=16), plan_for("cpu")
    assert (gpu.precision, gpu.pin_memory, gpu.token_budget, gpu.chunk_size) == (
        "fp16",
        True,
        65_536,
        65_536,
    )
    assert gpu.tokenizer_threads > 1 and gpu.slice_texts < gpu.chunk_size  # tokenizes ahead
    assert (cpu.precision, cpu.pin_memory, cpu.chunk_size) == ("fp32", False, 4_096)
    assert plan_for("cuda", gpu_memory_gib=12).token_budget < gpu.token_budget


def test_the_device_follows_what_torch_sees(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert auto_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert auto_device() == "cuda"


def test_on_a_cpu_the_fast_encoder_gives_the_fp32_vectors_of_encode(minilm, sample_texts):
    import torch

    assert minilm.engine == "fast encoder, fp32 on cpu"
    assert all(p.dtype == torch.float32 for p in minilm.model.parameters())
    fast, reference = minilm.embed(sample_texts), minilm.reference_embed(sample_texts)
    assert fast.dtype == np.float32 and fast.shape == reference.shape
    assert np.min(np.sum(fast * reference, axis=1)) > 0.99999


def test_the_gpu_pipeline_shape_runs_on_a_cpu(minilm, sample_texts):
    """Many small slices tokenized ahead on several threads, narrow budgets: the batching,
    the threads and the reordering of a GPU run, checked against the one-slice result."""
    gpu_like = replace(
        minilm.encoder.plan, slice_texts=7, tokenizer_threads=3, lookahead=4, token_budget=300
    )
    threaded = FastEncoder(minilm.model, gpu_like)
    positions = np.concatenate([b.positions for b in threaded.prepared(sample_texts)])
    assert sorted(positions.tolist()) == list(range(len(sample_texts)))
    np.testing.assert_allclose(threaded.encode(sample_texts), minilm.embed(sample_texts), atol=2e-5)


def test_reduced_precision_stays_within_the_contract(sample_texts):
    """The fp16/bf16 branch (cast, fp32 normalisation) on a model of its own: bf16 runs on any
    CPU, and its vectors must stay within cosine 0.999 of fp32 like fp16 on a GPU."""
    import torch

    embedder = load_embedder(device="cpu", precision="bf16")
    assert embedder.engine == "fast encoder, bf16 on cpu"
    assert next(embedder.model.parameters()).dtype == torch.bfloat16
    reference = load_embedder(device="cpu", fast=False).embed(sample_texts)
    assert np.min(np.sum(embedder.embed(sample_texts) * reference, axis=1)) >= 0.999


def test_a_fast_path_that_disagrees_falls_back_to_encode(sample_texts):
    embedder = load_embedder(device="cpu", fast=False)

    def wrong(texts: list[str]) -> np.ndarray:
        vectors = np.random.default_rng(1).standard_normal((len(texts), 384))
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    encoder, note = verified_fast_encoder(embedder.model, plan_for("cpu"), wrong)
    assert encoder is None and note.startswith("sentence-transformers encode")
    embedder.model.default_prompt_name = "query"
    encoder, note = verified_fast_encoder(embedder.model, plan_for("cpu"), embedder.reference_embed)
    assert encoder is None and "prompt" in note
