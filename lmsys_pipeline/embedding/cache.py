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

The manifest also records a checksum of every block of every file (``cache_check.py``); what
a load reads is verified first. A damaged cache is rebuilt by the process that finds it (as
the writer, under the exclusive lock) with one warning naming what was damaged. A cache that
cannot be written (a read-only folder, a path that is a file) is read while it is current,
else the database is read with one warning: a load never fails, and never answers wrong,
because of its cache.
"""

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.db.vectors import QueryEmbedding, TextEmbedding
from lmsys_pipeline.embedding.cache_check import DamagedCache, check_text_ids
from lmsys_pipeline.embedding.cache_files import (
    FILES,
    MANIFEST,
    Manifest,
    append_at,
    checksum,
    clear_files,
    holds_files,
    id_array,
    locked,
    open_verified,
    read_manifest,
    write_manifest,
)
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

__all__ = ["MANIFEST", "CacheReport", "cached_vectors", "model_folder", "refresh_cache"]
log = logging.getLogger(__name__)
_warned: set[str] = set()
# Above this share of missing rows, stream the model's whole table instead of asking by id.
STREAM_SHARE = 0.3


@dataclass
class CacheReport:
    folder: str
    action: str  # current | extended | resynced | built | none | unwritable | cleared | kept
    rows: int = 0
    links: int = 0
    seconds: float = 0.0
    problem: str = ""  # what was damaged, or why the folder could not be written


def model_folder(db: DatabaseManager, model: str) -> Path | None:
    if db.vector_cache_dir is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:60]
    return db.vector_cache_dir / f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def _warn(message: str) -> None:
    """One warning per message and process (a command may load the same vectors twice)."""
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def _current_state(db: DatabaseManager, model: str) -> VersionState | None:
    with db.engine.connect() as connection:
        return read_version(connection, model)


def _unwritable(folder: Path, error: OSError, damage: str = "") -> str:
    """One sentence: why ``folder`` cannot be written, and what to do."""
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        reason = f"{blocking} is a file, not a folder"
    else:
        reason = error.strerror or str(error)
        if error.filename and not str(error.filename).startswith(str(folder)):
            reason += f": {error.filename}"
    state = f"is damaged ({damage}) and cannot be rebuilt" if damage else "cannot be written"
    return (
        f"The vector cache {folder} {state} ({reason}), so vectors are read from the database "
        "(slower): make the folder writable or delete it, or set LMSYS_VECTOR_CACHE to another "
        "folder or to off."
    )


def cached_vectors(
    db: DatabaseManager, model: str, dimension: int, query_ids: Sequence[int] | None = None
) -> StoredVectors | None:
    """``load_vectors`` from the cache: None when the database has no cache folder or no
    version row for the model (written before versions existed: read the tables), or, for a
    subset, when the cache is not current (a few rows are cheaper to read than a refresh); also
    None, with one warning, when a cache that must be refreshed or repaired cannot be."""
    folder = model_folder(db, model)
    state = _current_state(db, model) if folder is not None else None
    if folder is None or state is None:
        return None
    damage = ""
    try:
        with locked(folder, exclusive=False):
            manifest = read_manifest(folder)
            if manifest is not None and manifest.serves(state, model, dimension):
                return open_verified(folder, manifest, query_ids)
    except DamagedCache as error:
        damage = str(error)
    except OSError:
        pass  # unreadable: the writer below says why, or a subset reads the tables
    if query_ids is not None and not damage:
        return None
    try:
        with locked(folder, exclusive=True):
            manifest, _, found = _refresh(db, model, dimension, folder)
            if found:
                _warn(f"The vector cache {folder} was damaged ({found}): rebuilt it.")
            return open_verified(folder, manifest, query_ids)
    except OSError as error:
        _warn(_unwritable(folder, error, damage))
    except DamagedCache as error:
        _warn(
            f"The vector cache {folder} is damaged again right after a rebuild ({error}), so "
            "vectors are read from the database: check the disk, or set LMSYS_VECTOR_CACHE "
            "to another folder."
        )
    return None


def refresh_cache(db: DatabaseManager, model: str) -> CacheReport:
    """Brings ``model``'s cache up to date (after an embedding run or a deletion). Gives an
    older database its version row first, so it can be cached from now on. A folder that
    cannot be written is reported (``unwritable``, with one warning), not raised."""
    folder = model_folder(db, model)
    if folder is None:
        return CacheReport("", "none")
    try:
        return _refresh_now(db, model, folder)
    except OSError as error:
        problem = _unwritable(folder, error)
        _warn(problem)
        return CacheReport(str(folder), "unwritable", problem=problem)


def _refresh_now(db: DatabaseManager, model: str, folder: Path) -> CacheReport:
    started = time.perf_counter()
    if _current_state(db, model) is None:
        with db.engine.begin() as connection:
            bump_version(connection, model)
    with locked(folder, exclusive=True):
        manifest, action, damage = _refresh(db, model, registered_dimension(db, model), folder)
    problem = f"The vector cache {folder} was damaged ({damage}): rebuilt it." if damage else ""
    if problem:
        _warn(problem)
    seconds = time.perf_counter() - started
    return CacheReport(str(folder), action, manifest.rows, manifest.links, seconds, problem)


def refresh_existing_caches(db: DatabaseManager, models: Sequence[str]) -> list[CacheReport]:
    """Refreshes the caches this machine already holds for ``models`` (after a deletion: the
    deleted vectors leave the files now rather than at the next load). A cache that cannot be
    rewritten has its files removed, or emptied where only they are writable (``cleared``);
    one that allows neither is ``kept``, its ``problem`` the sentence that says so and how to
    remove it."""
    reports = []
    for model in models:
        folder = model_folder(db, model)
        if folder is None or not holds_files(folder):
            continue
        try:
            reports.append(_refresh_now(db, model, folder))
        except OSError:
            problem = clear_files(folder)
            action = "kept" if problem else "cleared"
            reports.append(CacheReport(str(folder), action, problem=problem))
    return reports


def set_aside(db: DatabaseManager, model: str, why: str) -> None:
    """Drops ``model``'s manifest (the next load rebuilds the cache) after its vectors gave an
    impossible answer although they matched their checksums (a manifest rewritten to match),
    with one warning; the caller reads the tables instead."""
    folder = model_folder(db, model)
    if folder is None:
        return
    try:
        with locked(folder, exclusive=True):
            (folder / MANIFEST).unlink(missing_ok=True)
        done = "it is rebuilt at the next load"
    except OSError as error:
        done = f"it could not be set aside ({error.strerror or error}): delete the folder"
    _warn(f"The vector cache {folder} {why}, so this answer comes from the database; {done}.")


def _refresh(
    db: DatabaseManager, model: str, dimension: int, folder: Path
) -> tuple[Manifest, str, str]:
    """Under the exclusive lock: the manifest after bringing the files up to date, what was
    done, and what was damaged in the old files (if anything: then they were rebuilt)."""
    state = _current_state(db, model)
    if state is None:
        raise LookupError(f"Model {model} has no vector version row to cache against.")
    manifest, damage = _verified_manifest(folder)
    if manifest is not None and manifest.serves(state, model, dimension):
        return manifest, "current", ""
    usable = (
        manifest is not None
        and (manifest.lineage, manifest.model) == (state.lineage, model)
        and manifest.dimension == dimension
    )
    target = Manifest(model, dimension, *state)
    if usable and manifest.removals == state.removals and _extend(db, folder, manifest, target):
        action = "extended"
    else:
        _resync(db, folder, manifest if usable else None, target)
        action = "resynced" if usable else "built"
    write_manifest(folder, target)
    return target, action, damage


def _verified_manifest(folder: Path) -> tuple[Manifest | None, str]:
    """The manifest with every file verified against it, or (None, what is damaged)."""
    try:
        manifest = read_manifest(folder)
        if manifest is not None:
            open_verified(folder, manifest, None)
            text_ids = id_array(folder, manifest, "text_ids")
            check_text_ids(manifest.files["text_ids"], text_ids, manifest.max_text_id)
        return manifest, ""
    except DamagedCache as error:
        return None, str(error)


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
        cached_text_ids = id_array(folder, old, "text_ids")
        missing = np.setdiff1d(np.unique(text_ids), cached_text_ids)
        fetched_ids, fetched = _fetch(connection, old, missing, old.rows)
    new.files = dict(old.files)
    append_at(folder / old.files["vectors"], old.rows * old.dimension * 4, fetched)
    append_at(folder / old.files["text_ids"], old.rows * 8, fetched_ids)
    all_text_ids = np.concatenate([cached_text_ids, fetched_ids])
    rows, keep = _rows_of(all_text_ids, text_ids)
    append_at(folder / old.files["query_ids"], old.links * 8, query_ids[keep])
    append_at(folder / old.files["rows"], old.links * 8, rows)
    _describe(new, all_text_ids, old.links + int(keep.sum()), query_ids[keep], old.max_query_id)
    checksum(folder, new, old)
    return True


def _resync(db: DatabaseManager, folder: Path, old: Manifest | None, new: Manifest) -> None:
    """Re-reads every link, keeps the cached rows still referenced and fetches the others;
    writes new files (the old ones go once the new manifest is in place)."""
    with db.engine.connect() as connection:
        query_ids, text_ids = read_links(connection, new.model)
        referenced = np.unique(text_ids)
        cached_text_ids = id_array(folder, old, "text_ids") if old else np.empty(0, np.int64)
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
    checksum(folder, new)


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
