import dagster as dg
import numpy as np

from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.definitions import defs
from lmsys_pipeline.embedding.loading import load_vectors
from lmsys_pipeline.embedding.store import save_chunk, text_hash
from lmsys_pipeline.ingestion.loader import ingest_batches
from lmsys_pipeline.ingestion.sources import open_source


def test_every_shard_of_the_backlog_together_embeds_each_query_once(
    tmp_path, monkeypatch, embedded_db_file
):
    url = f"sqlite:///{tmp_path}/q.db"
    monkeypatch.setenv("LMSYS_DB_URL", url)
    db = DatabaseManager(url)
    ingest_batches(db, open_source(None).batches(1000), limit=120)
    job = defs.resolve_job_def("embed_backlog_job")
    keys = job.partitions_def.get_partition_keys()
    assert keys[0] == "0-of-8" and len(keys) == 8
    covered = []
    with dg.DagsterInstance.ephemeral() as instance:
        for key in keys:
            result = job.execute_in_process(instance=instance, partition_key=key)
            assert result.success
            [event] = result.get_asset_materialization_events()
            metadata = event.event_specific_data.materialization.metadata
            covered.append(metadata["new_queries_embedded"].value)
        assert (
            len(instance.fetch_materializations(dg.AssetKey("query_embeddings"), limit=100).records)
            == 8
        )
    assert sum(covered) == 120 and min(covered) > 0
    sharded = load_vectors(db, "all-MiniLM-L6-v2")
    assert len(sharded.query_ids) == 120 == len(set(sharded.query_ids.tolist()))
    reference = load_vectors(
        DatabaseManager(embedded_db_file), "all-MiniLM-L6-v2", sharded.query_ids.tolist()
    )
    assert np.allclose(sharded.for_queries(), reference.for_queries(), atol=1e-5)


def test_two_workers_storing_the_same_text_keep_one_vector(any_db):
    from lmsys_pipeline.embedding.store import register_model

    ingest_batches(any_db, open_source(None).batches(1000), limit=2)
    register_model(any_db, "m", 2, "test")
    register_model(any_db, "m", 2, "test")
    key = text_hash("same text")
    for query_id in (1, 2):  # each worker believes the text is new
        with any_db.engine.begin() as connection:
            save_chunk(
                connection, "m", {key: np.array([0.6, 0.8], dtype=np.float32)}, [(query_id, key)]
            )
    stored = load_vectors(any_db, "m")
    assert stored.vectors.shape == (1, 2) and stored.rows.tolist() == [0, 0]
