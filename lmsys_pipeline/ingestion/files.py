"""Reading local parquet / JSON Lines / JSON files, keeping whatever can be read.

A file that cannot be opened, is in another layout, or breaks part-way (a corrupt parquet row
group, a truncated gzip member) does not stop the load: what was read before the break is kept,
the damaged part is recorded as a ``SourceProblem`` (file, part, cause, rows lost when known)
and reading goes on with the next row group or file. Only when nothing at all could be read
does the source fail, with one sentence naming the file and the cause.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmsys_pipeline.errors import UserError

REQUIRED_COLUMNS = ("conversation_id", "conversation")
LAYOUT_COLUMNS = (
    "conversation_id",
    "model",
    "conversation",
    "turn",
    "language",
    "openai_moderation",
    "redacted",
    "timestamp",  # the conversation's own time, where the source has one (WildChat)
)
Row = dict[str, Any]
# Parquet yields Arrow record batches (parsed column-wise); the others lists of dicts.
Batch = list[Row] | Any


class SourceError(UserError):
    """A source that cannot be read, explained in one sentence."""


@dataclass(frozen=True)
class SourceProblem:
    """A part of a source that could not be read; the rest was."""

    path: str
    cause: str
    part: str = "the whole file"
    rows_lost: int | None = None  # known for parquet row groups, unknown for text files

    def sentence(self) -> str:
        lost = "" if self.rows_lost is None else f", {self.rows_lost:,} rows lost"
        return f"{self.path}: {self.part} could not be read ({self.cause}{lost})"


Report = Callable[[SourceProblem], None]


class _LayoutMismatch(Exception):
    pass


def _cause(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


def layout_error(path: Path, columns: list[str]) -> SourceError:
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    return SourceError(
        f"{path} is not in the LMSYS-Chat-1M layout (missing {', '.join(missing)}; found "
        f"{', '.join(columns[:8]) or 'no columns'}): give rows with conversation_id, model and "
        "conversation = [{role, content}, ...]."
    )


def parquet_batches(path: Path, batch_size: int, report: Report) -> Iterator[Batch]:
    """Row group by row group: a corrupt group is reported with its lost rows and skipped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    errors = (pa.ArrowException, OSError, ValueError)
    try:
        parquet = pq.ParquetFile(path)
    except errors as error:
        report(SourceProblem(str(path), f"not a readable parquet file: {_cause(error)}"))
        return
    columns = parquet.schema_arrow.names
    if any(name not in columns for name in REQUIRED_COLUMNS):
        raise _LayoutMismatch(str(layout_error(path, columns)))
    wanted = [name for name in LAYOUT_COLUMNS if name in columns]
    groups = parquet.num_row_groups
    for group in range(groups):
        rows = parquet.metadata.row_group(group).num_rows
        batches = parquet.iter_batches(batch_size=batch_size, columns=wanted, row_groups=[group])
        read = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except errors as error:
                report(
                    SourceProblem(
                        str(path), _cause(error), f"row group {group + 1} of {groups}", rows - read
                    )
                )
                break
            read += batch.num_rows
            yield batch


def _open_text(path: Path):
    """UTF-8, with a byte-order mark dropped if the file starts with one (``utf-8-sig``)."""
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace")


def _check_layout(path: Path, row: Any) -> None:
    if not isinstance(row, dict) or "conversation_id" not in row or "conversation" not in row:
        raise _LayoutMismatch(str(layout_error(path, list(row) if isinstance(row, dict) else [])))


def _lines(path: Path, report: Report) -> Iterator[str]:
    """The file's lines; a read error part-way (a truncated gzip) is reported, not raised."""
    import zlib

    read = 0
    try:
        with _open_text(path) as handle:
            for line in handle:
                read += 1
                yield line
    except (OSError, EOFError, zlib.error) as error:
        part = "the whole file" if read == 0 else f"the rest after line {read:,}"
        report(SourceProblem(str(path), _cause(error), part))


def jsonl_batches(path: Path, batch_size: int, report: Report) -> Iterator[Batch]:
    """JSON Lines, one conversation per line; an unparsable line becomes an ``_invalid`` row."""
    batch: Batch = []
    checked = False
    for line in _lines(path, report):
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


def json_batches(path: Path, batch_size: int, report: Report) -> Iterator[Batch]:
    """A JSON array of rows (or ``{"data": [...]}``); read whole, so keep such files modest.
    A file that is not one JSON document is read as JSON Lines."""
    text = "".join(_lines(path, report)).lstrip()
    if not text:
        return
    if text[0] not in "[{":
        raise _LayoutMismatch(f"{path} is not JSON: give a JSON array of LMSYS-layout rows.")
    try:
        document = json.loads(text)
    except ValueError:
        yield from jsonl_batches(path, batch_size, report)
        return
    if isinstance(document, dict) and "conversation_id" in document:
        document = [document]
    elif isinstance(document, dict):
        document = document.get("data") or document.get("rows") or []
    if not isinstance(document, list):
        raise _LayoutMismatch(
            f"{path} holds no list of rows: give a JSON array of LMSYS-layout rows."
        )
    if document:
        _check_layout(path, document[0])
    for start in range(0, len(document), batch_size):
        yield [
            row if isinstance(row, dict) else {"_invalid": "invalid_json_line"}
            for row in document[start : start + batch_size]
        ]


Reader = Callable[[Path, int, Report], Iterator[Batch]]


def file_reader(path: Path) -> Reader:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return parquet_batches
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return jsonl_batches
    if name.endswith((".json", ".json.gz")):
        return json_batches
    raise SourceError(
        f"{path} has an unsupported file type: use .parquet, .jsonl, .ndjson or .json files."
    )


def read_files(files: list[Path], batch_size: int, report: Report) -> Iterator[Batch]:
    """Every file in turn. A file in another layout is skipped and reported when there are
    others; the source fails, in one sentence, only when nothing at all could be read."""
    problems: list[SourceProblem] = []
    yielded = False

    def note(problem: SourceProblem) -> None:
        problems.append(problem)
        report(problem)

    for path in files:
        try:
            for batch in file_reader(path)(path, batch_size, note):
                yielded = True
                yield batch
        except _LayoutMismatch as mismatch:
            if len(files) == 1:
                raise SourceError(str(mismatch)) from None
            note(SourceProblem(str(path), "not in the LMSYS-Chat-1M layout"))
    if not yielded and problems:
        first = problems[0]
        others = f" ({len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise SourceError(f"Nothing could be read from the source: {first.sentence()}{others}.")
