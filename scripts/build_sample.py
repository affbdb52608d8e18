"""Builds the bundled sample: ~17k real rows in the LMSYS-Chat-1M layout from ../shared/data.

Sources (credited in lmsys_pipeline/data/NOTICE): Banking77 (train + test), Arena-Hard-Auto
prompts (v0.1 and v2.0) and HH-RLHF harmless-base test dialogues. Values the sources do not
have stay unknown: ``model`` is ``"unknown"``, ``openai_moderation`` and ``redacted`` are null.
``language`` is *detected* with py3langid and stored as the English name LMSYS-Chat-1M uses
(``English``, ``Chinese``; named by langcodes; null when the normalised probability is under
0.5 or the text has no language), and the ``language_source`` column says so. No
LMSYS-Chat-1M row is ever included.
"""

import argparse
import csv
import gzip
import json
import re
from pathlib import Path

import langcodes
import polars as pl
from py3langid.langid import MODEL_FILE, LanguageIdentifier

HH_TURN = re.compile(r"\n\n(Human|Assistant): ")
UNKNOWN_MODEL = "unknown"
# Below this normalised probability the detected language is left null rather than guessed.
MIN_LANGUAGE_PROBABILITY = 0.5
_IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


NO_LANGUAGE = "zxx"


def _detect_language(text: str) -> str | None:
    """The language's English name, as LMSYS-Chat-1M stores it (``English``, not ``en``)."""
    code, probability = _IDENTIFIER.classify(text[:2000])
    if probability < MIN_LANGUAGE_PROBABILITY or code == NO_LANGUAGE:
        return None
    return langcodes.Language.get(code).display_name()


def _row(conversation_id: str, messages: list[dict[str, str]], source: str) -> dict:
    user_text = next(m["content"] for m in messages if m["role"] == "user")
    return {
        "conversation_id": conversation_id,
        "model": UNKNOWN_MODEL,
        "conversation": messages,
        "turn": sum(1 for m in messages if m["role"] == "user"),
        "language": _detect_language(user_text),
        "openai_moderation": None,
        "redacted": None,
        "source": source,
        "language_source": "py3langid",
    }


def banking77_rows(folder: Path) -> list[dict]:
    rows = []
    for split in ("train", "test"):
        with open(folder / f"{split}.csv", newline="", encoding="utf-8") as handle:
            for index, record in enumerate(csv.DictReader(handle)):
                messages = [{"role": "user", "content": record["text"]}]
                rows.append(_row(f"banking77-{split}-{index:05d}", messages, "banking77"))
    return rows


def arena_hard_rows(folder: Path) -> list[dict]:
    rows = []
    for version in ("v0.1", "v2.0"):
        path = folder / f"arena-hard-{version}_question.jsonl"
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            record = json.loads(line)
            messages = [{"role": "user", "content": record["prompt"]}]
            rows.append(_row(f"arena-hard-{version}-{record['uid']}", messages, "arena_hard"))
    return rows


def parse_hh_transcript(transcript: str) -> list[dict[str, str]]:
    """Splits a ``\\n\\nHuman: ...\\n\\nAssistant: ...`` transcript into LMSYS messages."""
    parts = HH_TURN.split(transcript)
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        messages.append({"role": role, "content": content.strip()})
    return messages


def hh_rlhf_rows(folder: Path) -> list[dict]:
    rows = []
    with gzip.open(folder / "harmless-base_test.jsonl.gz", "rt", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            messages = parse_hh_transcript(json.loads(line)["chosen"])
            rows.append(_row(f"hh-rlhf-harmless-test-{index:05d}", messages, "hh_rlhf"))
    return rows


def build(shared: Path, out: Path) -> Path:
    rows = banking77_rows(shared / "banking77")
    rows += arena_hard_rows(shared / "arena_hard")
    rows += hh_rlhf_rows(shared / "hh_rlhf")
    schema = {
        "conversation_id": pl.String,
        "model": pl.String,
        "conversation": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
        "turn": pl.Int64,
        "language": pl.String,
        "openai_moderation": pl.List(pl.Struct({"flagged": pl.Boolean})),
        "redacted": pl.Boolean,
        "source": pl.String,
        "language_source": pl.String,
    }
    frame = pl.DataFrame(rows, schema=schema).sample(fraction=1.0, shuffle=True, seed=7)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "sample.parquet"
    frame.write_parquet(target, compression="zstd", compression_level=19)
    print(f"wrote {frame.height} rows to {target} ({target.stat().st_size / 1e6:.1f} MB)")
    print(frame.group_by("source").len().sort("source"))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("lmsys_pipeline/data"))
    args = parser.parse_args()
    build(args.shared, args.out)


if __name__ == "__main__":
    main()
