"""Where conversations come from: the bundled sample, local files, or a Hugging Face dataset.

``open_source(spec)`` resolves a source string and returns a ``Source`` whose ``batches()``
streams batches of rows, so memory stays bounded whatever the size of the source. Problems a
user can fix (a missing path, a gated dataset, a file in another layout) raise ``SourceError``
with one sentence that says what to do; parts of files that cannot be read are skipped and
listed in ``Source.problems`` (see ``files.py``).
"""

import glob
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lmsys_pipeline.ingestion.files import (
    Batch,
    Report,
    SourceError,
    SourceProblem,
    file_reader,
    read_files,
)

HUB_DATASET_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FILE_SUFFIXES = (".parquet", ".jsonl", ".ndjson", ".json", ".jsonl.gz", ".json.gz")
DEFAULT_HUB_DATASET = "lmsys/lmsys-chat-1m"
HF_TOKEN_ENVS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


@dataclass
class Source:
    """A resolved source: a description for metadata, a factory of row batches, and the parts
    that could not be read during the last ``batches()``."""

    spec: str
    kind: str
    description: str
    read_batches: Callable[[int, Report], Iterator[Batch]]
    problems: list[SourceProblem] = field(default_factory=list)

    def batches(self, batch_size: int) -> Iterator[Batch]:
        self.problems.clear()
        return self.read_batches(batch_size, self.problems.append)


def bundled_sample_path() -> Path:
    return Path(str(resources.files("lmsys_pipeline") / "data" / "sample.parquet"))


def _files_source(spec: str, files: list[Path], kind: str) -> Source:
    for path in files:
        file_reader(path)  # an unsupported type fails now, before anything is read

    def read(batch_size: int, report: Report) -> Iterator[Batch]:
        return read_files(files, batch_size, report)

    if len(files) == 1:
        return Source(spec, kind, f"{kind} {files[0].name}", read)
    names = ", ".join(path.name for path in files[:3]) + (" ..." if len(files) > 3 else "")
    return Source(spec, kind, f"{len(files)} files ({kind}): {names}", read)


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
    def read(batch_size: int, report: Report) -> Iterator[Batch]:
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
        sample = _files_source("sample", [bundled_sample_path()], "sample")
        sample.description = f"bundled sample ({bundled_sample_path().name})"
        return sample
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


__all__ = ["Batch", "Source", "SourceError", "SourceProblem", "bundled_sample_path", "open_source"]
