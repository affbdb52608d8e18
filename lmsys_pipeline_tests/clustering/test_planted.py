"""A planted structure in real prompts must come out of the default HDBSCAN run."""

import re
from collections import Counter
from importlib.resources import files

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from lmsys_pipeline.clustering.params import HDBSCANParams
from lmsys_pipeline.clustering.runs import materialize_run, register_run
from lmsys_pipeline.db.models import Query, QueryCluster
from lmsys_pipeline.embedding.runner import embed_pending
from lmsys_pipeline_tests.embedding.conftest import load_rows

PER_FAMILY = 100
CODE = re.compile(r"(?i)\b(python|javascript|c\+\+|function|code|sql|rust|java)\b")


def families() -> dict[str, list[str]]:
    """Three topic families of the bundled sample's real first prompts: Banking77 card
    questions, Chatbot Arena coding prompts and HH-RLHF red-team openers."""
    sample = pl.read_parquet(str(files("lmsys_pipeline") / "data" / "sample.parquet"))
    texts = sample.with_columns(
        text=pl.col("conversation").list.first().struct.field("content")
    ).select("source", "text")
    card = texts.filter(
        (pl.col("source") == "banking77") & pl.col("text").str.contains(r"(?i)\bcard\b")
    )
    code = texts.filter(
        (pl.col("source") == "arena_hard") & pl.col("text").str.contains(CODE.pattern)
    )
    harmless = texts.filter(pl.col("source") == "hh_rlhf")
    return {
        name: frame["text"].head(PER_FAMILY).to_list()
        for name, frame in {"card": card, "code": code, "redteam": harmless}.items()
    }


@pytest.mark.slow
def test_topic_families_come_out_as_separate_hdbscan_clusters(sqlite_db, minilm, tmp_path):
    """With the default run (UMAP, min size from the data) no cluster mixes families. The
    PCA path of before put the coding and red-team prompts into one cluster (179 queries: 93
    coding + 86 red-team)."""
    for name, texts in families().items():
        load_rows(sqlite_db, tmp_path, texts, prefix=f"{name}-")
    embed_pending(sqlite_db, minilm)
    run = register_run(sqlite_db, HDBSCANParams())
    materialize_run(sqlite_db, run.run_id)
    with sqlite_db.engine.connect() as connection:
        rows = connection.execute(
            select(Query.conversation_id, QueryCluster.cluster_id)
            .join(QueryCluster, QueryCluster.query_id == Query.id)
            .where(QueryCluster.run_id == run.run_id)
        ).all()
    assert len(rows) == 3 * PER_FAMILY
    members: dict[int, Counter] = {}
    for conversation_id, cluster in rows:
        members.setdefault(cluster, Counter())[conversation_id.split("-")[0]] += 1
    clusters = {c: counts for c, counts in members.items() if c != -1}
    assert len(clusters) >= 3
    owner = {}
    for cluster, counts in clusters.items():
        family, size = counts.most_common(1)[0]
        assert size >= 0.8 * sum(counts.values()), f"cluster {cluster} mixes {dict(counts)}"
        owner[cluster] = family
    for family in ("card", "code", "redteam"):
        own = sum(counts[family] for c, counts in clusters.items() if owner[c] == family)
        assert own >= 0.8 * PER_FAMILY, (family, own, members)
    assert np.mean([cluster == -1 for _, cluster in rows]) < 0.2
