"""``lmsys serve --public``: the published report and nothing else, on both databases."""

import json

from fastapi.testclient import TestClient
from sqlalchemy import update

from lmsys_pipeline.db.models import ClusterSummary
from lmsys_pipeline.explorer.app import create_app
from lmsys_pipeline.explorer.settings import ExplorerSettings
from lmsys_pipeline.privacy.publish import public_report
from lmsys_pipeline.privacy.view import public_view
from lmsys_pipeline_tests.privacy.planted import build_planted, loaded_texts


def test_public_mode_serves_only_the_published_report(sqlite_db, minilm, tmp_path):
    db = sqlite_db
    run_id = build_planted(db, minilm, tmp_path)
    url = f"sqlite:///{db.engine.url.database}"
    app = create_app(ExplorerSettings(db_url=url, public=True, min_conversations=10))
    with TestClient(app) as client:
        assert client.get("/api/runs").json() == [{"run_id": run_id, "alias": "kw"}]
        index = client.get("/")
        assert index.status_code == 200 and f"/runs/{run_id}?alias=kw" in index.text
        served = client.get(f"/api/runs/{run_id}", params={"alias": "kw"}).json()
        assert served == json.loads(json.dumps(public_report(public_view(db, run_id, "kw", 10))))
        assert served["trends"]["by"] == "week" and served["trends"]["rows"]
        page = client.get(f"/runs/{run_id}", params={"alias": "kw"})
        assert page.status_code == 200 and f"Clusters of {run_id} (kw)" in page.text
        assert "Conversations per week" in page.text
        assert page.headers["content-security-policy"]
        texts = [t for t in loaded_texts(db) if len(t) >= 20]
        for body in (index.text, page.text, json.dumps(served)):
            assert not [t for t in texts if t in body]
        for path in ("/queries/1", "/api/search?q=card", f"/runs/{run_id}/clusters/0", "/docs"):
            missing = client.get(path)
            assert missing.status_code == 404, path
        assert client.get("/api/runs/nope", params={"alias": "kw"}).status_code == 404

        with db.engine.begin() as connection:
            connection.execute(update(ClusterSummary).values(title="Calls to 415-555-0132"))
        refused = client.get(f"/api/runs/{run_id}", params={"alias": "kw"})
        assert refused.status_code == 403
        assert refused.json()["error"].startswith(f"Publishing {run_id} --alias kw refused")
        assert "415-555-0132" not in refused.text
