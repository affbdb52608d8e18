"""The files of one model's vector cache: the manifest, the lock, verified reads, checksums
and appends (``cache.py`` decides when to build, extend or resync them).

Every read goes through ``cache_check.py`` first: a manifest that cannot be parsed, a file
shorter than the manifest says or a block that does not match its checksum is ``DamagedCache``,
never an answer.
"""

import fcntl
import json
import mmap
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from lmsys_pipeline.embedding.cache_check import (
    BLOCK,
    DamagedCache,
    blocks_of_rows,
    check_links,
    file_digests,
    let_go,
    mapping_of,
    verify_blocks,
)
from lmsys_pipeline.embedding.store import StoredVectors, VersionState

MANIFEST = "manifest.json"
FORMAT = 2  # 2: block checksums (a cache of format 1 is rebuilt once)
FILES = ("vectors", "text_ids", "query_ids", "rows")
FILE_NAME = re.compile(r"(vectors|text_ids|query_ids|rows)-[0-9a-f]+\.(f32|i64)")


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
    checksums: dict[str, list[str]] = field(default_factory=dict)
    format: int = FORMAT

    def reflects(self, state: VersionState | None) -> bool:
        return state is not None and (self.lineage, self.version, self.removals) == tuple(state)

    def serves(self, state: VersionState, model: str, dimension: int) -> bool:
        return self.reflects(state) and (self.model, self.dimension) == (model, dimension)

    def vouched_bytes(self, name: str) -> int:
        """How much of file ``name`` the manifest vouches for (files may be longer)."""
        if name == "vectors":
            return self.rows * self.dimension * 4
        return (self.rows if name == "text_ids" else self.links) * 8


def _valid(data: object) -> bool:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return False
    counts = [data.get(k) for k in ("dimension", "version", "removals", "rows", "links")]
    files, checksums = data.get("files"), data.get("checksums")
    return (
        all(isinstance(c, int) and c >= 0 for c in counts)
        and isinstance(files, dict)
        and set(files) == set(FILES)
        and all(isinstance(n, str) and FILE_NAME.fullmatch(n) for n in files.values())
        and isinstance(checksums, dict)
        and all(isinstance(checksums.get(n), list) for n in FILES)
    )


def read_manifest(folder: Path) -> Manifest | None:
    """None when there is none (or an empty one, or one of an older format: rebuilt without a
    word); ``DamagedCache`` when it cannot be read."""
    try:
        text = (folder / MANIFEST).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not text.strip():
        return None
    try:
        data = json.loads(text)
        if isinstance(data, dict) and data.get("format") != FORMAT:
            return None
        if _valid(data):
            return Manifest(**data)
    except (ValueError, TypeError):
        pass
    raise DamagedCache(f"{MANIFEST} cannot be read")


def check_sizes(folder: Path, manifest: Manifest) -> None:
    for name in FILES:
        path = folder / manifest.files[name]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DamagedCache(f"{path.name} is missing") from None
        if size < manifest.vouched_bytes(name):
            raise DamagedCache(f"{path.name} is shorter than its manifest says")


@contextmanager
def locked(folder: Path, exclusive: bool) -> Iterator[None]:
    """The folder's lock. A reader that cannot open the lock file for writing (a read-only
    folder) locks it read-only, or reads unlocked when there is none (nobody can write
    there); a writer needs the folder (``OSError`` otherwise)."""
    if exclusive:
        folder.mkdir(parents=True, exist_ok=True)
    handle = None
    for mode in ("a+b", "rb"):
        try:
            handle = open(folder / "lock", mode)  # noqa: SIM115 (closed below)
            break
        except OSError:
            continue
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def id_array(folder: Path, manifest: Manifest, name: str) -> np.ndarray:
    """An id file, verified against its checksums."""
    count = manifest.rows if name == "text_ids" else manifest.links
    array = np.fromfile(folder / manifest.files[name], dtype="<i8", count=count)
    verify_blocks(manifest.files[name], array, manifest.checksums[name])
    return array


def mapped(path: Path, rows: int, dimension: int, whole: bool) -> np.ndarray:
    """A read-only memory map of the first ``rows`` rows. ``whole``: the caller reads it all
    (ranking, clustering), so the kernel is asked to read ahead the whole file at once, which
    a cold search needs; otherwise rows are read where the caller touches them."""
    if not rows:
        empty = np.empty((0, dimension), dtype="<f4")
        empty.flags.writeable = False
        return empty
    with open(path, "rb") as handle:
        region = mmap.mmap(handle.fileno(), rows * dimension * 4, prot=mmap.PROT_READ)
    if hasattr(region, "madvise"):
        region.madvise(mmap.MADV_WILLNEED if whole else mmap.MADV_RANDOM)
    return np.frombuffer(region, dtype="<f4").reshape(rows, dimension)


COPY_BYTES = 64 * 2**20


def copied_out(vectors: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """An in-memory copy of ``vectors`` (or of its ``rows``, ascending). From a memory map
    (``mapped``) the file is passed in steps of ``COPY_BYTES``, each step's pages let go of the
    map once copied: the kernel maps neighbouring cached pages with every fault, so a copy of
    the whole file or of a sample spread over it would otherwise hold all of the file (1.5 GB
    at a million 384-dimension vectors) beside the copy."""
    region = mapping_of(vectors)
    if region is None:
        return np.array(vectors if rows is None else vectors[rows])
    wanted = np.arange(len(vectors)) if rows is None else rows
    copy = np.empty((len(wanted), *vectors.shape[1:]), dtype=vectors.dtype)
    row_bytes = vectors[:1].nbytes or 1
    step = max(COPY_BYTES // row_bytes, 1)
    done = 0
    for end_row in range(step, len(vectors) + step, step):
        end = int(np.searchsorted(wanted, end_row))
        copy[done:end] = vectors[wanted[done:end]] if rows is not None else vectors[done:end]
        done = end
        # the page this step ends inside is let go with the next step
        let_go(region, 0, min(end_row, len(vectors)) * row_bytes)
    return copy


def open_verified(
    folder: Path, manifest: Manifest, query_ids: Sequence[int] | None
) -> StoredVectors:
    """The cached vectors (a read-only memory map) and links, or those of ``query_ids``,
    verified first: the id files whole, the vectors where they are read."""
    check_sizes(folder, manifest)
    cached_ids, rows = id_array(folder, manifest, "query_ids"), id_array(folder, manifest, "rows")
    check_links(manifest.files, cached_ids, rows, manifest.rows, manifest.max_query_id)
    vectors = mapped(
        folder / manifest.files["vectors"], manifest.rows, manifest.dimension, query_ids is None
    )
    name, digests = manifest.files["vectors"], manifest.checksums["vectors"]
    if query_ids is None:
        verify_blocks(name, vectors, digests)
        return StoredVectors(manifest.model, manifest.dimension, cached_ids, rows, vectors, True)
    wanted = np.unique(np.asarray(list(query_ids), dtype=np.int64))
    position = np.minimum(np.searchsorted(cached_ids, wanted), max(len(cached_ids) - 1, 0))
    found = cached_ids[position] == wanted if len(cached_ids) else np.zeros(0, dtype=bool)
    distinct, inverse = np.unique(rows[position[found]], return_inverse=True)
    blocks = blocks_of_rows(distinct, manifest.dimension * 4)
    verify_blocks(name, vectors, digests, blocks, let_pages_go=True)
    return StoredVectors(
        manifest.model,
        manifest.dimension,
        wanted[found],
        inverse.astype(np.int64),
        copied_out(vectors, distinct),
        True,
    )


def checksum(folder: Path, manifest: Manifest, old: Manifest | None = None) -> None:
    """The block checksums of every file; the whole blocks before an append (``old``, just
    verified) are kept, not read again."""
    for name in FILES:
        kept = old.checksums[name][: old.vouched_bytes(name) // BLOCK] if old else []
        path, size = folder / manifest.files[name], manifest.vouched_bytes(name)
        manifest.checksums[name] = file_digests(path, size, kept)


def append_at(path: Path, valid_bytes: int, array: np.ndarray) -> None:
    """Cuts ``path`` to the bytes the old manifest vouches for, then appends ``array``."""
    with open(path, "r+b") as out:
        out.truncate(valid_bytes)
        out.seek(valid_bytes)
        out.write(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())


def write_manifest(folder: Path, manifest: Manifest) -> None:
    temporary = folder / f".{MANIFEST}.{os.getpid()}"
    temporary.write_text(json.dumps(asdict(manifest)))
    os.replace(temporary, folder / MANIFEST)
    keep = {MANIFEST, "lock", *manifest.files.values()}
    for path in folder.iterdir():  # files of earlier manifests (open maps keep their data)
        if path.name not in keep and not path.name.startswith(f".{MANIFEST}."):
            path.unlink(missing_ok=True)


def holds_files(folder: Path) -> bool:
    try:
        return any(path.name != "lock" for path in folder.iterdir())
    except OSError:
        return False


def clear_files(folder: Path) -> str:
    """Removes the files of a cache that cannot be rewritten (after a deletion they hold the
    deleted vectors): unlinked where the folder allows it, else emptied where the files do
    (a reader still mapping them then fails rather than answering from them). The manifest
    goes first, so no reader takes emptied files for a cache. Returns "" when nothing is
    left, else one sentence naming what neither could reach and how to remove it."""
    reason = ""  # why the first file that stays could be neither unlinked nor emptied
    with locked(folder, exclusive=True):
        paths = sorted(folder.iterdir(), key=lambda p: (p.name != MANIFEST, p.name))
        for path in (p for p in paths if p.name != "lock"):
            try:
                path.unlink()
                continue
            except OSError:
                pass
            try:
                with open(path, "r+b") as handle:
                    handle.truncate(0)
            except OSError as error:
                reason = reason or error.strerror or str(error) or type(error).__name__
    if not reason:
        return ""
    return (
        f"The vector cache {folder} still holds the deleted queries' vectors ({reason}): "
        f"remove it with `rm -r {folder}` once it can be written (e.g. after remounting it "
        "read-write)."
    )
