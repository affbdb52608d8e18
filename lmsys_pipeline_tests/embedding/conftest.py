from dataclasses import dataclass, field

import numpy as np
import pytest

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.rows import message, row, write_parquet


@dataclass
class RecordingEmbedder:
    """The real model, recording what reached it; can be told to die on a given call."""

    inner: object
    fail_on_call: int | None = None
    calls: list[list[str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def max_chars(self) -> int:
        return self.inner.max_chars

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise KeyboardInterrupt("killed half-way")
        return self.inner.embed(texts)

    @property
    def texts_seen(self) -> list[str]:
        return [text for call in self.calls for text in call]


@pytest.fixture
def recording(minilm) -> RecordingEmbedder:
    return RecordingEmbedder(minilm)


CARD_TEXTS = [f"My bank card was stolen yesterday, case {i}" for i in range(20)]
GERMAN_TEXTS = [
    "Wie backe ich Brot?",
    "Was kostet ein Zugticket nach Berlin?",
    "Kannst du mir ein Gedicht schreiben?",
]


def load_rows(db: DatabaseManager, tmp_path, texts: list[str], prefix: str = "c", **extra):
    rows = [row(f"{prefix}{i}", [message("user", text)], **extra) for i, text in enumerate(texts)]
    path = write_parquet(tmp_path / f"{prefix}.parquet", rows)
    return ingest_batches(db, open_source(str(path)).batches(1000))


@pytest.fixture
def sample_db(sqlite_db: DatabaseManager) -> DatabaseManager:
    """200 real queries from the bundled sample."""
    ingest_batches(sqlite_db, open_source(None).batches(1000), limit=200)
    return sqlite_db
