"""Writes an N-row parquet file in the LMSYS-Chat-1M layout for benchmarks.

Texts are real prompts from the bundled sample, varied by a numeric suffix so that about 70% of
first messages are distinct (LMSYS repeats many prompts), with LMSYS-like lengths: mostly short,
a long tail of pasted documents. Every message carries an OpenAI-moderation record with the
eleven categories and scores, as LMSYS-Chat-1M does, and about 3% of rows are flagged.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lmsys_pipeline.ingestion.sources import bundled_sample_path

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
MODELS = (
    "vicuna-13b",
    "koala-13b",
    "alpaca-13b",
    "chatglm-6b",
    "llama-2-13b-chat",
    "gpt-3.5-turbo",
    "claude-1",
    "palm-2",
    "gpt-4",
    "mpt-7b-chat",
)
LANGUAGES = ("English", "Portuguese", "Russian", "Chinese", "Spanish", "German", "French")
ANSWER = "Sure. Here is a detailed answer that walks through the steps one by one. " * 6

MODERATION_TYPE = pa.struct(
    [
        ("categories", pa.struct([(name, pa.bool_()) for name in CATEGORIES])),
        ("category_scores", pa.struct([(name, pa.float64()) for name in CATEGORIES])),
        ("flagged", pa.bool_()),
    ]
)
SCHEMA = pa.schema(
    [
        ("conversation_id", pa.string()),
        ("model", pa.string()),
        ("conversation", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
        ("turn", pa.int64()),
        ("language", pa.string()),
        ("openai_moderation", pa.list_(MODERATION_TYPE)),
        ("redacted", pa.bool_()),
    ]
)


def _prompt_pool() -> list[str]:
    table = pq.read_table(bundled_sample_path(), columns=["conversation"])
    return [conversation[0]["content"] for conversation in table.column(0).to_pylist()]


def _moderation(rng: np.random.Generator, flagged: bool) -> dict:
    hit = CATEGORIES[int(rng.integers(len(CATEGORIES)))] if flagged else None
    return {
        "categories": {name: name == hit for name in CATEGORIES},
        "category_scores": {
            name: float(rng.random()) * (0.9 if name == hit else 0.01) for name in CATEGORIES
        },
        "flagged": flagged,
    }


def _chunk(rng: np.random.Generator, pool: list[str], start: int, size: int) -> pa.Table:
    rows = {name: [] for name in SCHEMA.names}
    prompt_ids = rng.integers(len(pool), size=size)
    variants = rng.integers(0, 4, size=size)
    turns = rng.choice([1, 1, 1, 2, 3], size=size)
    for offset in range(size):
        prompt = pool[prompt_ids[offset]]
        if variants[offset]:
            prompt = f"{prompt} ({start + offset})"
        messages = []
        moderation = []
        for turn_index in range(turns[offset]):
            user_text = prompt if turn_index == 0 else "Can you explain that in more detail?"
            flagged = turn_index == 0 and rng.random() < 0.03
            messages += [
                {"content": user_text, "role": "user"},
                {"content": ANSWER, "role": "assistant"},
            ]
            moderation += [_moderation(rng, flagged), _moderation(rng, False)]
        rows["conversation_id"].append(f"{start + offset:032x}")
        rows["model"].append(MODELS[(start + offset) % len(MODELS)])
        rows["conversation"].append(messages)
        rows["turn"].append(int(turns[offset]))
        rows["language"].append(LANGUAGES[int(rng.integers(len(LANGUAGES)))])
        rows["openai_moderation"].append(moderation)
        rows["redacted"].append(bool(rng.random() < 0.05))
    return pa.Table.from_pydict(rows, schema=SCHEMA)


def write_lmsys_parquet(path: Path, rows: int, *, seed: int = 0, chunk_rows: int = 50_000) -> Path:
    rng = np.random.default_rng(seed)
    pool = _prompt_pool()
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, SCHEMA, compression="zstd") as writer:
        for start in range(0, rows, chunk_rows):
            writer.write_table(_chunk(rng, pool, start, min(chunk_rows, rows - start)))
    return path
