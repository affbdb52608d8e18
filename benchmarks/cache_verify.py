"""What verifying the vector cache costs, next to reading it, at 100k and 1M x 384 float32.

For each size: a vectors file of random unit rows and its block checksums (``file_digests``,
what a cache build records), then, each timed warm (file in the page cache) and cold (evicted
first with ``posix_fadvise(DONTNEED)``):

- read: ``np.fromfile`` of the whole file (a plain read into memory);
- rank: the cache's memory map (``mapped``, read-ahead asked for) times one query vector, what
  an unfiltered search does with it;
- verify: ``verify_blocks`` over the memory map (what every full load now does first);
- verify + rank: both, as a full load and search now run them (verifying pulls the file in);
- BLAKE2b over the map, for comparison with the hash chosen (xxh3-128).

Warm figures are the median of three; cold ones one run each, every one after the same
eviction (on a virtual machine the host may still cache the file: "cold" is this machine's
page cache only).

    .venv/bin/python benchmarks/cache_verify.py --rows 100000,1000000
"""

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lmsys_pipeline.embedding.cache_check import file_digests, verify_blocks
from lmsys_pipeline.embedding.cache_files import mapped

DIM = 384


def write_vectors(path: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "wb") as out:
        for start in range(0, rows, 100_000):
            chunk = rng.standard_normal((min(100_000, rows - start), DIM), dtype=np.float32)
            chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
            out.write(chunk.astype("<f4").tobytes())


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def measure(path: Path, rows: int) -> dict[str, tuple[float, float]]:
    digests = file_digests(path, rows * DIM * 4)
    query = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)

    def whole() -> np.ndarray:
        return mapped(path, rows, DIM, whole=True)

    def verify_and_rank() -> None:
        vectors = whole()
        verify_blocks(path.name, vectors, digests)
        vectors @ query

    tasks = {
        "read (np.fromfile)": lambda: np.fromfile(path, dtype="<f4"),
        "rank (map @ query)": lambda: whole() @ query,
        "verify (xxh3-128 blocks)": lambda: verify_blocks(path.name, whole(), digests),
        "verify + rank": verify_and_rank,
        "BLAKE2b over the map": lambda: hashlib.blake2b(whole()).digest(),
    }
    np.fromfile(path, dtype="<f4")  # once, so every cold run starts from the same state
    results = {}
    for name, task in tasks.items():
        evict(path)
        started = time.perf_counter()
        task()
        cold = time.perf_counter() - started
        warm = []
        for _ in range(3):
            started = time.perf_counter()
            task()
            warm.append(time.perf_counter() - started)
        results[name] = (statistics.median(warm), cold)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    table: dict[str, dict[int, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        for rows in sizes:
            path = Path(folder) / f"vectors-{rows}.f32"
            write_vectors(path, rows)
            for name, times in measure(path, rows).items():
                table.setdefault(name, {})[rows] = times
            path.unlink()
    header = " | ".join(
        f"{rows:,} x {DIM} ({rows * DIM * 4 / 1e9:.2f} GB): warm / cold" for rows in sizes
    )
    print(f"| seconds | {header} |")
    print("|---|" + "---:|" * len(sizes))
    for name, by_size in table.items():
        cells = " | ".join(f"{by_size[r][0]:.3f} / {by_size[r][1]:.3f}" for r in sizes)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
