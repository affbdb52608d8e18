import pytest

from lmsys_pipeline_tests.support.pipeline_data import build_embedded, summarize

TREE_CLUSTERS = 25


@pytest.fixture(params=["sqlite", "postgresql"])
def summarized_any(request, built_once, minilm, tmp_path):
    """``build_embedded`` (200 sample queries) in a KMeans run of ``TREE_CLUSTERS`` clusters
    with an offline summary run ``kw``, a private copy on either database (built once per
    session and database): (database, run id)."""
    from lmsys_pipeline.clustering.params import KMeansParams
    from lmsys_pipeline.clustering.runs import materialize_run, register_run

    def build(db, folder) -> str:
        build_embedded(db, minilm, folder, queries=200)
        run = register_run(db, KMeansParams(n_clusters=TREE_CLUSTERS))
        materialize_run(db, run.run_id)
        summarize(db, run.run_id, "kw", label_quality_queries=0)
        return run.run_id

    with built_once.on_param(request, "summarized_200_k25", build, tmp_path) as (db, run_id):
        yield db, run_id
