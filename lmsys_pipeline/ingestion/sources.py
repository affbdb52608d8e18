"""Where conversations come from: the bundled sample, local files, or a Hugging Face dataset.

``open_source(spec)`` resolves a source string and returns a ``Source`` whose ``batches()``
streams lists of row dicts, so memory stays bounded whatever the size of the source. Problems a
user can fix (a missing path, a gated dataset, a file in another layout) raise ``SourceError``
with one sentence that says what to do.
"""

import glob
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lmsys_pipeline.errors import UserError

HUB_DATASET_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FILE_SUFFIXES = (".parquet", ".jsonl", ".ndjson", ".json", ".jsonl.gz", ".json.gz")
REQUIRED_COLUMNS = ("conversation_id", "conversation")
LAYOUT_COLUMNS = (
    "conversation_id",
    "model",
    "conversation",
    "turn",
    "language",
    "openai_moderation",
    "redacted",
)
DEFAULT_HUB_DATASET = "lmsys/lmsys-chat-1m"
HF_TOKEN_ENVS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")

Row = dict[str, Any]
# Parquet sources yield Arrow record batches (parsed column-wise); the others lists of dicts.
Batch = list[Row] | Any


class SourceError(UserError):
    """A source that cannot be read, explained in one sentence."""


@dataclass(frozen=True)
class Source:
    """A resolved source: a description for metadata and a factory of row batches."""

    spec: str
    kind: str
    description: str
    read_batches: Callable[[int], Iterator[Batch]]

    def batches(self, batch_size: int) -> Iterator[Batch]:
        return self.read_batches(batch_size)


def bundled_sample_path() -> Path:
    return Path(str(resources.files("lmsys_pipeline") / "data" / "sample.parquet"))


def _layout_error(path: Path, columns: list[str]) -> SourceError:
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    return SourceError(
        f"{path} is not in the LMSYS-Chat-1M layout (missing {', '.join(missing)}; found "
        f"{', '.join(columns[:8]) or 'no columns'}): give rows with conversation_id, model and "
        "conversation = [{role, content}, ...]."
    )


def _parquet_batches(path: Path, batch_size: int) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise SourceError(f"{path} is not a readable parquet file ({error}).") from error
    columns = parquet.schema_arrow.names
    if any(name not in columns for name in REQUIRED_COLUMNS):
        raise _layout_error(path, columns)
    wanted = [name for name in LAYOUT_COLUMNS if name in columns]
    yield from parquet.iter_batches(batch_size=batch_size, columns=wanted)


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _check_layout(path: Path, row: Any) -> None:
    if not isinstance(row, dict) or "conversation_id" not in row or "conversation" not in row:
        raise _layout_error(path, list(row) if isinstance(row, dict) else [])


def _jsonl_batches(path: Path, batch_size: int) -> Iterator[Batch]:
    """JSON Lines, one conversation per line; an unparsable line becomes an ``_invalid`` row."""
    batch: Batch = []
    checked = False
    with _open_text(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = {"_invalid": "invalid_json_line"}
            else:
                if not checked:
                    _check_layout(path, row)
                    checked = True
                if not isinstance(row, dict):
                    row = {"_invalid": "invalid_json_line"}
            batch.append(row)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def _json_batches(path: Path, batch_size: int) -> Iterator[Batch]:
    """A JSON array of rows (or ``{"data": [...]}``); read whole, so keep such files modest."""
    with _open_text(path) as handle:
        first = handle.read(1)
        while first and first.isspace():
            first = handle.read(1)
        if first != "[" and first != "{":
            raise SourceError(f"{path} is not JSON: give a JSON array of LMSYS-layout rows.")
        try:
            document = json.loads(first + handle.read())
        except ValueError:
            handle.close()
            yield from _jsonl_batches(path, batch_size)
            return
    if isinstance(document, dict) and "conversation_id" in document:
        document = [document]
    elif isinstance(document, dict):
        document = document.get("data") or document.get("rows") or []
    if not isinstance(document, list):
        raise SourceError(f"{path} holds no list of rows: give a JSON array of LMSYS-layout rows.")
    if document:
        _check_layout(path, document[0])
    for start in range(0, len(document), batch_size):
        yield [
            row if isinstance(row, dict) else {"_invalid": "invalid_json_line"}
            for row in document[start : start + batch_size]
        ]


def _file_reader(path: Path) -> Callable[[Path, int], Iterator[Batch]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return _parquet_batches
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return _jsonl_batches
    if name.endswith((".json", ".json.gz")):
        return _json_batches
    raise SourceError(
        f"{path} has an unsupported file type: use .parquet, .jsonl, .ndjson or .json files."
    )


def _files_source(spec: str, files: list[Path], kind: str) -> Source:
    readers = [(path, _file_reader(path)) for path in files]

    def read(batch_size: int) -> Iterator[Batch]:
        for path, reader in readers:
            yield from reader(path, batch_size)

    names = ", ".join(path.name for path in files[:3]) + (" ..." if len(files) > 3 else "")
    return Source(spec, kind, f"{len(files)} {kind} file(s): {names}", read)


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a dropped connection raises while streaming: OS-level errors, and the transport
    errors of the HTTP client the hub library uses (not OSError subclasses)."""
    import importlib

    errors: list[type[BaseException]] = [OSError, ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _hub_source(dataset_id: str, split: str = "train") -> Source:
    def read(batch_size: int) -> Iterator[Batch]:
        import datasets

        token = next((os.environ[name] for name in HF_TOKEN_ENVS if os.environ.get(name)), None)
        try:
            dataset = datasets.load_dataset(dataset_id, split=split, streaming=True, token=token)
            rows = iter(dataset)
        except (OSError, ConnectionError, ValueError) as error:
            offline = " (HF_HUB_OFFLINE=1 is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
            raise SourceError(
                f"Could not open the hub dataset {dataset_id}{offline}: it may be gated or "
                "unreachable, so accept its terms on the hub and set HF_TOKEN, or download its "
                f"parquet files and pass their local path as the source ({type(error).__name__})."
            ) from error
        batch: Batch = []
        streamed = 0
        try:
            for row in rows:
                batch.append(row)
                if len(batch) >= batch_size:
                    streamed += len(batch)
                    yield batch
                    batch = []
        except _network_errors() as error:
            raise SourceError(
                f"The connection to the hub dropped while streaming {dataset_id} after "
                f"{streamed + len(batch):,} rows ({type(error).__name__}): run the same load "
                "again; rows already stored are skipped."
            ) from error
        if batch:
            yield batch

    return Source(dataset_id, "hub", f"hub dataset {dataset_id} (streaming)", read)


def _supported_files(paths: list[Path]) -> list[Path]:
    return sorted(p for p in paths if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))


def open_source(spec: str | None) -> Source:
    """Resolves a source string: None (the bundled sample), a path, a folder, a glob or a hub id."""
    if spec is None or spec.strip() in ("", "sample", "bundled"):
        path = bundled_sample_path()
        return Source(
            "sample",
            "sample",
            f"bundled sample ({path.name})",
            lambda size: _parquet_batches(path, size),
        )
    spec = spec.strip()
    path = Path(spec).expanduser()
    if path.is_dir():
        files = _supported_files(list(path.rglob("*")))
        if not files:
            raise SourceError(
                f"Folder {path} holds no .parquet, .jsonl or .json files: point at a folder of "
                "LMSYS-layout files."
            )
        return _files_source(spec, files, "folder")
    if path.is_file():
        _file_reader(path)
        return _files_source(spec, [path], "file")
    if glob.has_magic(spec):
        files = _supported_files(
            [Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True)]
        )
        if not files:
            raise SourceError(f"The pattern {spec} matches no .parquet, .jsonl or .json files.")
        return _files_source(spec, files, "glob")
    if HUB_DATASET_PATTERN.match(spec) and not spec.endswith(FILE_SUFFIXES):
        return _hub_source(spec)
    raise SourceError(
        f"Source {spec} does not exist: give a local .parquet/.jsonl/.json file, a folder or "
        f"glob of them, or a hub dataset id such as {DEFAULT_HUB_DATASET}."
    )
