"""Checks that a vector cache's files still hold what its manifest recorded, before any answer
is read from them.

Each file is hashed in blocks of ``BLOCK`` bytes with xxh3-128 (~15 GB/s here: verifying the
1.5 GB of vectors of 1M texts takes ~0.1 s once they are in the page cache, against ~0.9 s for
BLAKE2b), and the digests are kept in the manifest. A full load verifies every block of what it
maps; a load of a few queries only the blocks that hold their rows. The id files are verified
whole and then checked for what the code relies on: query ids strictly ascending, every row
inside the vector file, text ids distinct. A file changed by hand, by a disk or by another
program is never read as if it were the database's.
"""

import mmap
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xxhash

BLOCK = 8 << 20


class DamagedCache(Exception):
    """A cache file that no longer matches its manifest; the message names it and how."""


def mapping_of(data: np.ndarray) -> mmap.mmap | None:
    """The memory map that ``data`` is a view of, when it starts at the map's first byte and
    runs on contiguously (``cache_files.mapped``); else None."""
    region = data.base
    while region is not None and not isinstance(region, mmap.mmap):
        region = region.obj if isinstance(region, memoryview) else getattr(region, "base", None)
    if region is None or not hasattr(region, "madvise") or not len(region):
        return None
    start = np.frombuffer(region, dtype=np.uint8, count=1).ctypes.data
    return region if data.flags.c_contiguous and data.ctypes.data == start else None


def let_go(region: mmap.mmap | None, start: int, end: int) -> None:
    """Drops the whole pages within bytes ``start``..``end`` of ``region`` from this process's
    memory (they are read again from the file if touched): a pass over a large map then holds
    one step of it, not all of it."""
    first, last = -(-start // mmap.PAGESIZE), end // mmap.PAGESIZE
    if region is not None and last > first:
        region.madvise(mmap.MADV_DONTNEED, first * mmap.PAGESIZE, (last - first) * mmap.PAGESIZE)


def _bytes(data: np.ndarray) -> np.ndarray:
    """``data`` as one flat run of bytes (a view: a mapped file is not copied)."""
    return np.ascontiguousarray(data).reshape(-1).view(np.uint8)


def block_digests(data: np.ndarray, first_block: int = 0) -> list[str]:
    """The xxh3-128 digest of each ``BLOCK``-byte block of ``data``, from ``first_block`` on."""
    flat = _bytes(data)
    return [
        xxhash.xxh3_128_hexdigest(flat[start : start + BLOCK])
        for start in range(first_block * BLOCK, len(flat), BLOCK)
    ]


def file_digests(path: Path, size: int, kept: Iterable[str] = ()) -> list[str]:
    """Digests of the first ``size`` bytes of ``path``; the blocks in ``kept`` (already
    verified and unchanged, e.g. before an append) are not read again."""
    kept = list(kept)
    if not size:
        return []
    data = np.memmap(path, dtype=np.uint8, mode="r", shape=(size,))
    return kept + block_digests(data, len(kept))


def blocks_of_rows(rows: np.ndarray, row_bytes: int) -> np.ndarray:
    """The blocks that the byte ranges of ``rows`` (each ``row_bytes`` long) fall in."""
    starts = rows.astype(np.int64) * row_bytes
    return np.union1d(starts // BLOCK, (starts + row_bytes - 1) // BLOCK)


def verify_blocks(
    file_name: str,
    data: np.ndarray,
    digests: list[str],
    blocks: Iterable[int] | None = None,
    *,
    let_pages_go: bool = False,
) -> None:
    """Raises ``DamagedCache`` unless the blocks of ``data`` (all, or ``blocks``) hash to
    ``digests``. ``let_pages_go``: a mapped ``data`` drops each block's pages once hashed
    (a caller reading a few rows of the file after does not hold all of it)."""
    flat = _bytes(data)
    count = -(-len(flat) // BLOCK)
    if len(digests) != count:
        raise DamagedCache(f"{file_name} has {len(digests)} checksums for {count} blocks")
    region = mapping_of(data) if let_pages_go else None
    for block in range(count) if blocks is None else blocks:
        start = int(block) * BLOCK
        if xxhash.xxh3_128_hexdigest(flat[start : start + BLOCK]) != digests[block]:
            raise DamagedCache(
                f"{file_name} does not match its checksum in block {block + 1} of {count}"
            )
        let_go(region, start, start + BLOCK)


def check_links(
    file_names: dict[str, str],
    query_ids: np.ndarray,
    rows: np.ndarray,
    vector_rows: int,
    max_query_id: int,
) -> None:
    """What ``_open`` relies on: query ids strictly ascending up to the manifest's highest,
    and every row inside the vector file."""
    if len(query_ids) != len(rows):
        raise DamagedCache(f"{file_names['query_ids']} and {file_names['rows']} differ in length")
    if len(query_ids) and (query_ids[0] < 1 or np.any(np.diff(query_ids) <= 0)):
        raise DamagedCache(f"{file_names['query_ids']} is not strictly ascending")
    if len(query_ids) and int(query_ids[-1]) != max_query_id:
        raise DamagedCache(f"{file_names['query_ids']} ends at another id than the manifest's")
    if len(rows) and (rows.min() < 0 or rows.max() >= vector_rows):
        raise DamagedCache(f"{file_names['rows']} points outside {file_names['vectors']}")


def check_text_ids(file_name: str, text_ids: np.ndarray, max_text_id: int) -> None:
    """Text ids are distinct and positive, their maximum the manifest's."""
    if not len(text_ids):
        return
    if text_ids.min() < 1 or int(text_ids.max()) != max_text_id:
        raise DamagedCache(f"{file_name} holds ids the manifest does not know")
    if len(np.unique(text_ids)) != len(text_ids):
        raise DamagedCache(f"{file_name} repeats an id")
