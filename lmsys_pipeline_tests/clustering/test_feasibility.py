"""KMeans that asks for more clusters than there are distinct vectors is refused before
anything is written, in one sentence that says how many there are."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from lmsys_pipeline.clustering.fit import ClusteringInputError
from lmsys_pipeline.clustering.params import KMeansParams
from lmsys_pipeline.clustering.runs import register_run
from lmsys_pipeline.db.models import ClusteringRun, QueryCluster
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source
from lmsys_pipeline_tests.support.rows import message, row, write_parquet


def test_more_clusters_than_distinct_texts_is_refused_at_once(any_db, minilm, tmp_path: Path):
    db = any_db
    ingest_batches(db, open_source(None).batches(100), limit=18)
    repeats = write_parquet(
        tmp_path / "repeats.parquet",
        [row(f"repeat-{i}", [message("user", "the very same question")]) for i in range(6)],
    )
    ingest_batches(db, open_source(str(repeats)).batches(10))
    embed_pending(db, minilm)  # 24 queries, 19 distinct texts

    with pytest.raises(ClusteringInputError) as refused:
        register_run(db, KMeansParams(n_clusters=20))
    assert "hold only 19 distinct texts, fewer than the 20 clusters" in str(refused.value)
    with db.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(ClusteringRun)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(QueryCluster)).scalar() == 0
    assert register_run(db, KMeansParams(n_clusters=19)).num_clusters == 19
    with pytest.raises(ClusteringInputError, match="The 20 embedded queries hold only 19"):
        register_run(db, KMeansParams(n_clusters=20, limit=20))
