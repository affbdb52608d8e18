"""The vector cache's memory map copied out without holding the map and the copy whole."""

from pathlib import Path

import numpy as np
import pytest

from lmsys_pipeline.embedding import cache_files
from lmsys_pipeline.embedding.cache_check import BLOCK, block_digests, verify_blocks
from lmsys_pipeline.embedding.cache_files import copied_out, mapped


def _resident_kb(path: Path) -> int:
    """Resident kilobytes of this process's map of ``path`` (Linux's /proc/self/smaps)."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.endswith(str(path)):
            return next(int(x.split()[1]) for x in lines[index + 1 :] if x.startswith("Rss:"))
    raise AssertionError(f"{path} is not mapped")


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, np.ndarray]:
    vectors = np.random.default_rng(0).standard_normal((12_000, 384)).astype("<f4")
    path = tmp_path / "vectors.f32"
    vectors.tofile(path)
    return path, vectors


def test_a_copy_out_of_the_map_lets_its_pages_go_step_by_step(stored, monkeypatch):
    path, vectors = stored
    monkeypatch.setattr(cache_files, "COPY_BYTES", 100_003)  # steps end inside pages
    view = mapped(path, len(vectors), 384, whole=True)
    assert float(view.sum()) == pytest.approx(float(vectors.sum()), rel=1e-4)  # read whole
    assert _resident_kb(path) >= vectors.nbytes // 1024 - 4
    copy = copied_out(view)
    np.testing.assert_array_equal(copy, vectors)
    assert not np.shares_memory(copy, view) and copy.flags.writeable
    assert _resident_kb(path) <= 4  # the last page at most
    np.testing.assert_array_equal(view, vectors)  # the map still reads (from the file again)


def test_arrays_that_are_not_a_whole_map_are_copied_plainly(stored):
    path, vectors = stored
    view = mapped(path, len(vectors), 384, whole=True)
    np.testing.assert_array_equal(copied_out(view[10:]), vectors[10:])
    np.testing.assert_array_equal(copied_out(vectors), vectors)
    assert copied_out(mapped(path, 0, 384, whole=True)).shape == (0, 384)


def test_verifying_a_few_rows_does_not_hold_the_whole_map(stored):
    """A sample of rows spread over the file (the explorer's map) touches every block."""
    path, vectors = stored
    digests = block_digests(vectors)
    assert len(digests) == -(-vectors.nbytes // BLOCK) >= 3
    view = mapped(path, len(vectors), 384, whole=False)
    verify_blocks("vectors", view, digests, range(len(digests)), let_pages_go=True)
    assert _resident_kb(path) <= 4
    verify_blocks("vectors", view, digests)
    assert _resident_kb(path) >= vectors.nbytes // 1024 - 4  # held unless asked


def test_a_sample_spread_over_the_map_is_copied_without_holding_the_map(stored, monkeypatch):
    path, vectors = stored
    monkeypatch.setattr(cache_files, "COPY_BYTES", 1_000_003)
    rows = np.unique(np.random.default_rng(1).choice(len(vectors), 900, replace=False))
    view = mapped(path, len(vectors), 384, whole=False)
    np.testing.assert_array_equal(copied_out(view, rows), vectors[rows])
    assert _resident_kb(path) <= 4
    assert copied_out(view, rows[:0]).shape == (0, 384)
    np.testing.assert_array_equal(copied_out(vectors, rows), vectors[rows])  # not a map
