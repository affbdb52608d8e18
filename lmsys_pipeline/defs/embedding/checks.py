"""Checks on stored vectors after each embedding run."""

import dagster as dg
import numpy as np
from sqlalchemy import func, select

from lmsys_pipeline.db.vectors import EmbeddingModel, TextEmbedding
from lmsys_pipeline.defs.embedding.assets import query_embeddings
from lmsys_pipeline.defs.resources import DatabaseResource

SAMPLE = 2_000
NORM_TOLERANCE = 1e-3


@dg.asset_check(
    asset=query_embeddings,
    blocking=True,
    description=(
        "Sampled vectors of every model have the model's dimension and unit length, so cosine "
        "similarity is a dot product."
    ),
)
def vectors_have_model_dimension_and_unit_length(
    database: DatabaseResource,
) -> dg.AssetCheckResult:
    problems: dict[str, str] = {}
    checked = 0
    with database.manager.get_session() as session:
        models = session.exec(select(EmbeddingModel)).scalars().all()
        for model in models:
            blobs = (
                session.exec(
                    select(TextEmbedding.vector)
                    .where(TextEmbedding.model == model.name)
                    .order_by(func.random())
                    .limit(SAMPLE)
                )
                .scalars()
                .all()
            )
            checked += len(blobs)
            wrong_size = sum(len(blob) != model.dimension * 4 for blob in blobs)
            if wrong_size:
                problems[model.name] = f"{wrong_size} vectors of the wrong size"
                continue
            if blobs:
                vectors = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(-1, model.dimension)
                off = int(np.sum(np.abs(np.linalg.norm(vectors, axis=1) - 1) > NORM_TOLERANCE))
                if off:
                    problems[model.name] = f"{off} vectors not of unit length"
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"vectors_checked": checked, "problems": dg.MetadataValue.json(problems)},
    )
