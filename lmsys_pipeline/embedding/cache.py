"""A per-model cache of the stored vectors outside the database: a float32 matrix that is
memory-mapped, not read row by row through SQL.

Unfiltered search over 1M vectors spent ~9 s reading 1.5 GB of blobs out of the database on
every call; from the mapped matrix the same search ranks in ~0.1 s once the file is in the page
cache. The cache holds, per model, in ``<cache dir>/<model key>/``:

- ``vectors-*.f32``: one row per distinct stored text (little-endian float32, C order),
- ``text_ids-*.i64``: the ``text_embeddings.id`` of each row,
- ``query_ids-*.i64`` / ``rows-*.i64``: every query with a vector, ascending, and its row,
- ``manifest.json``: sizes, file names and the ``vector_versions`` row it reflects.

It is valid when its manifest matches the database's ``vector_versions`` row for the model
(one primary-key read per load); every write of vectors or links moves that row in the same
transaction, so a killed run, a new model or ``lmsys delete`` (from any machine) is noticed.
Bringing it up to date: new links past the cached highest query id are appended (the common
case after an embedding run); anything else (deletions, shards that committed out of order, a
different lineage) re-reads the links, keeps the cached rows still referenced (deleted vectors
are dropped from the file, not only hidden), and fetches what is missing. A writer holds an
exclusive lock on the folder; files are written first and the manifest is replaced atomically
last, so a process killed mid-way leaves the previous state, which the next load refreshes.
"""

import fcntl
import hashlib
import json
import mmap
import os
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding.store import (
    LOOKUP_CHUNK,
    StoredVectors,
    VersionState,
    bump_version,
    read_links,
    read_version,
    registered_dimension,
    vector_partitions,
)

MANIFEST = "manifest.json"
FORMAT = 1
FILES = ("vectors", "text_ids", "query_ids", "rows")
# Above this share of missing rows, stream the model's whole table instead of asking by id.
STREAM_SHARE = 0.3


@dataclass
class Manifest:
    model: str
    dimension: int
    lineage: str
    version: int
    removals: int
    rows: int = 0
    links: int = 0
    max_text_id: int = 0
    max_query_id: int = 0
    files: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT

    def reflects(self, state: VersionState | None) -> bool:
        return state is not None and (self.lineage, self.version, self.removals) == tuple(state)


@dataclass
class CacheReport:
    folder: str
    action: str  # current | extended | resynced | built | none
    rows: int = 0
    links: int = 0
    seconds: float = 0.0


def model_folder(db: DatabaseManager, model: str) -> Path | None:
    if db.vector_cache_dir is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:60]
    return db.vector_cache_dir / f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def _read_manifest(folder: Path) -> Manifest | None:
    try:
        data = json.loads((folder / MANIFEST).read_text())
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if manifest.format == FORMAT else None


def _sizes_ok(folder: Path, manifest: Manifest) -> bool:
    expected = {
        "vectors": manifest.rows * manifest.dimension * 4,
        "text_ids": manifest.rows * 8,
        "query_ids": manifest.links * 8,
        "rows": manifest.links * 8,
    }
    try:
        return all((folder / manifest.files[n]).stat().st_size >= expected[n] for n in FILES)
    except (OSError, KeyError):
        return False


@contextmanager
def _locked(folder: Path, exclusive: bool) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _array(folder: Path, manifest: Manifest, name: str) -> np.ndarray:
    count = manifest.rows if name == "text_ids" else manifest.links
    return np.fromfile(folder / manifest.files[name], dtype="<i8", count=count)


def _mapped(path: Path, rows: int, dimension: int, whole: bool) -> np.ndarray:
    """A read-only memory map of the first ``rows`` rows. ``whole``: the caller reads it all
    (ranking, clustering), so the kernel is asked to read ahead the whole file at once, which
    a cold search needs; otherwise rows are read where the caller touches them."""
    if not rows:
        empty = np.empty((0, dimension), dtype="<f4")
        empty.flags.writeable = False
        return empty
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), rows * dimension * 4, prot=mmap.PROT_READ)
    if hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_WILLNEED if whole else mmap.MADV_RANDOM)
    return np.frombuffer(mapped, dtype="<f4").reshape(rows, dimension)


def _open(folder: Path, manifest: Manifest, query_ids: Sequence[int] | None) -> StoredVectors:
    """The cached vectors (a read-only memory map) and links, or those of ``query_ids``."""
    vectors = _mapped(
        folder / manifest.files["vectors"], manifest.rows, manifest.dimension, query_ids is None
    )
    cached_ids, rows = _array(folder, manifest, "query_ids"), _array(folder, manifest, "rows")
    if query_ids is None:
        return StoredVectors(manifest.model, manifest.dimension, cached_ids, rows, vectors)
    wanted = np.unique(np.asarray(list(query_ids), dtype=np.int64))
    position = np.minimum(np.searchsorted(cached_ids, wanted), max(len(cached_ids) - 1, 0))
    found = cached_ids[position] == wanted if len(cached_ids) else np.zeros(0, dtype=bool)
    distinct, inverse = np.unique(rows[position[found]], return_inverse=True)
    return StoredVectors(
        manifest.model,
        manifest.dimension,
        wanted[found],
        inverse.astype(np.int64),
        np.ascontiguousarray(vectors[distinct]),
    )


def _current_state(db: DatabaseManager, model: str) -> VersionState | None:
    with db.engine.connect() as connection:
        return read_version(connection, model)


def cached_vectors(
    db: DatabaseManager, model: str, dimension: int, query_ids: Sequence[int] | None = None
) -> StoredVectors | None:
    """``load_vectors`` from the cache: None when the database has no cache folder or no
    version row for the model (written before versions existed: read the tables), or, for a
    subset, when the cache is not current (a few rows are cheaper to read than a refresh)."""
    folder = model_folder(db, model)
    state = _current_state(db, model) if folder is not None else None
    if folder is None or state is None:
        return None
    with _locked(folder, exclusive=False):
        manifest = _read_manifest(folder)
        if manifest is not None and manifest.reflects(state) and _sizes_ok(folder, manifest):
            return _open(folder, manifest, query_ids)
    if query_ids is not None:
        return None
    with _locked(folder, exclusive=True):
        manifest, _ = _refresh(db, model, dimension, folder)
        return _open(folder, manifest, None)


def refresh_cache(db: DatabaseManager, model: str) -> CacheReport:
    """Brings ``model``'s cache up to date (after an embedding run or a deletion). Gives an
    older database its version row first, so it can be cached from now on."""
    folder = model_folder(db, model)
    if folder is None:
        return CacheReport("", "none")
    started = time.perf_counter()
    if _current_state(db, model) is None:
        with db.engine.begin() as connection:
            bump_version(connection, model)
    with _locked(folder, exclusive=True):
        manifest, action = _refresh(db, model, registered_dimension(db, model), folder)
    return CacheReport(
        str(folder), action, manifest.rows, manifest.links, time.perf_counter() - started
    )


def refresh_existing_caches(db: DatabaseManager, models: Sequence[str]) -> list[CacheReport]:
    """Refreshes the caches this machine already holds for ``models`` (after a deletion: the
    deleted vectors leave the files now rather than at the next load)."""
    return [
        refresh_cache(db, model)
        for model in models
        if (folder := model_folder(db, model)) is not None and (folder / MANIFEST).exists()
    ]


def _refresh(db: DatabaseManager, model: str, dimension: int, folder: Path) -> tuple[Manifest, str]:
    """Under the exclusive lock: the manifest after bringing the files up to date."""
    state = _current_state(db, model)
    if state is None:
        raise LookupError(f"Model {model} has no vector version row to cache against.")
    manifest = _read_manifest(folder)
    if manifest is not None and manifest.reflects(state) and _sizes_ok(folder, manifest):
        return manifest, "current"
    usable = (
        manifest is not None
        and manifest.lineage == state.lineage
        and manifest.dimension == dimension
        and _sizes_ok(folder, manifest)
    )
    target = Manifest(model, dimension, *state)
    if usable and manifest.removals == state.removals and _extend(db, folder, manifest, target):
        action = "extended"
    else:
        _resync(db, folder, manifest if usable else None, target)
        action = "resynced" if usable else "built"
    _write_manifest(folder, target)
    return target, action


def _extend(db: DatabaseManager, folder: Path, old: Manifest, new: Manifest) -> bool:
    """Appends the links past the cached highest query id and their missing vectors; False
    (nothing written) when the database holds other changes too (e.g. shards that committed
    out of order), which ``_resync`` handles."""
    with db.engine.connect() as connection:
        query_ids, text_ids = read_links(connection, old.model, old.max_query_id)
        total = connection.execute(
            select(func.count())
            .select_from(QueryEmbedding)
            .where(QueryEmbedding.model == old.model)
        ).scalar_one()
        if old.links + len(query_ids) != total:
            return False
        cached_text_ids = _array(folder, old, "text_ids")
        missing = np.setdiff1d(np.unique(text_ids), cached_text_ids)
        fetched_ids, fetched = _fetch(connection, old, missing, old.rows)
    new.files = dict(old.files)
    _append(folder / old.files["vectors"], old.rows * old.dimension * 4, fetched)
    _append(folder / old.files["text_ids"], old.rows * 8, fetched_ids)
    all_text_ids = np.concatenate([cached_text_ids, fetched_ids])
    rows, keep = _rows_of(all_text_ids, text_ids)
    _append(folder / old.files["query_ids"], old.links * 8, query_ids[keep])
    _append(folder / old.files["rows"], old.links * 8, rows)
    _describe(new, all_text_ids, old.links + int(keep.sum()), query_ids[keep], old.max_query_id)
    return True


def _resync(db: DatabaseManager, folder: Path, old: Manifest | None, new: Manifest) -> None:
    """Re-reads every link, keeps the cached rows still referenced and fetches the others;
    writes new files (the old ones go once the new manifest is in place)."""
    with db.engine.connect() as connection:
        query_ids, text_ids = read_links(connection, new.model)
        referenced = np.unique(text_ids)
        cached_text_ids = _array(folder, old, "text_ids") if old else np.empty(0, np.int64)
        keep = np.flatnonzero(np.isin(cached_text_ids, referenced))
        missing = np.setdiff1d(referenced, cached_text_ids)
        fetched_ids, fetched = _fetch(connection, new, missing, len(keep))
    tag = uuid.uuid4().hex[:8]
    new.files = {name: f"{name}-{tag}.{'f32' if name == 'vectors' else 'i64'}" for name in FILES}
    with open(folder / new.files["vectors"], "wb") as out:
        if old is not None and len(keep):
            kept = np.memmap(folder / old.files["vectors"], dtype="<f4", mode="r")
            kept = kept[: old.rows * old.dimension].reshape(old.rows, old.dimension)
            for start in range(0, len(keep), 65_536):
                out.write(np.ascontiguousarray(kept[keep[start : start + 65_536]]).tobytes())
        out.write(np.ascontiguousarray(fetched, dtype="<f4").tobytes())
    all_text_ids = np.concatenate([cached_text_ids[keep], fetched_ids])
    rows, found = _rows_of(all_text_ids, text_ids)
    (folder / new.files["text_ids"]).write_bytes(all_text_ids.astype("<i8").tobytes())
    (folder / new.files["query_ids"]).write_bytes(query_ids[found].astype("<i8").tobytes())
    (folder / new.files["rows"]).write_bytes(rows.astype("<i8").tobytes())
    _describe(new, all_text_ids, int(found.sum()), query_ids[found], 0)


def _fetch(
    connection, manifest: Manifest, ids: np.ndarray, cached_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of text embedding ``ids`` (those still in the database), ids ascending."""
    parts_ids, parts = [np.empty(0, np.int64)], [np.empty((0, manifest.dimension), "<f4")]
    base = select(TextEmbedding.id, TextEmbedding.vector).where(
        TextEmbedding.model == manifest.model
    )
    if len(ids) and len(ids) > STREAM_SHARE * max(cached_rows, 1):
        # Many missing (a first build): one pass over the model's rows past the smallest id.
        statement = base.where(TextEmbedding.id >= int(ids[0]))
        for part_ids, matrix in vector_partitions(connection, statement, manifest.dimension):
            keep = np.isin(part_ids, ids)
            parts_ids.append(part_ids[keep])
            parts.append(matrix[keep])
    else:
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK].tolist()
            statement = base.where(TextEmbedding.id.in_(chunk))
            for part_ids, matrix in vector_partitions(connection, statement, manifest.dimension):
                parts_ids.append(part_ids)
                parts.append(matrix)
    fetched_ids, fetched = np.concatenate(parts_ids), np.concatenate(parts)
    order = np.argsort(fetched_ids, kind="stable")
    return fetched_ids[order], fetched[order]


def _rows_of(row_text_ids: np.ndarray, text_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The row of each link's text, and which links have one (a link whose vector was deleted
    while we read is left out; the version row says the cache must be refreshed again)."""
    if not len(row_text_ids):
        return np.empty(0, np.int64), np.zeros(len(text_ids), dtype=bool)
    sorter = np.argsort(row_text_ids, kind="stable")
    position = np.minimum(np.searchsorted(row_text_ids, text_ids, sorter=sorter), len(sorter) - 1)
    rows = sorter[position]
    found = row_text_ids[rows] == text_ids
    return rows[found], found


def _describe(
    manifest: Manifest, text_ids: np.ndarray, links: int, new_query_ids, max_query_id: int
) -> None:
    manifest.rows = len(text_ids)
    manifest.links = links
    manifest.max_text_id = int(text_ids.max()) if len(text_ids) else 0
    manifest.max_query_id = int(new_query_ids.max()) if len(new_query_ids) else max_query_id


def _append(path: Path, valid_bytes: int, array: np.ndarray) -> None:
    """Cuts ``path`` to the bytes the old manifest vouches for, then appends ``array``."""
    with open(path, "r+b") as out:
        out.truncate(valid_bytes)
        out.seek(valid_bytes)
        out.write(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    temporary = folder / f".{MANIFEST}.{os.getpid()}"
    temporary.write_text(json.dumps(asdict(manifest)))
    os.replace(temporary, folder / MANIFEST)
    keep = {MANIFEST, "lock", *manifest.files.values()}
    for path in folder.iterdir():  # files of earlier manifests (open maps keep their data)
        if path.name not in keep and not path.name.startswith(f".{MANIFEST}."):
            path.unlink(missing_ok=True)
