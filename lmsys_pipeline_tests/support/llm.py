"""Summary runs against the loopback OpenAI-compatible server: its settings, the rows made."""

from sqlalchemy import select

from lmsys_pipeline.db.models import ClusterSummary


def llm(url: str, **fields) -> dict:
    """The test server's settings (base_url and limits go to ThroughputSettings)."""
    return {
        "model": "openai/test-model",
        "base_url": url,
        "concurrency": 4,
        "max_retries": 3,
        "timeout_s": 10.0,
        **fields,
    }


def rows(db, summary_run_id: str) -> list[ClusterSummary]:
    with db.get_session() as session:
        return (
            session.exec(
                select(ClusterSummary).where(ClusterSummary.summary_run_id == summary_run_id)
            )
            .scalars()
            .all()
        )
