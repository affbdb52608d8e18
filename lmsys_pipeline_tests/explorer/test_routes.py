"""Every page and ``/api`` route through the ASGI client, on SQLite and PostgreSQL."""

import csv
import io

import pyarrow.parquet as pq
from markupsafe import escape

from lmsys_pipeline.explorer import charts
from lmsys_pipeline_tests.explorer.built import STOLEN, K


def _one_sentence(answer) -> str:
    sentence = answer.json()["error"]
    assert sentence.endswith(".") and "\n" not in sentence and "Traceback" not in sentence
    return sentence


def _cluster_of(client, run_id: str, query_id: int) -> int:
    places = client.get(f"/api/queries/{query_id}").json()["clusters"]
    return next(p["cluster_id"] for p in places if p["run_id"] == run_id)


def test_runs_page_and_json(client):
    client, built = client
    runs = client.get("/api/runs").json()
    assert [r["run_id"] for r in runs] == [built.run_b, built.run_a]
    first = runs[1]
    assert first["num_clusters"] == K and first["aliases"] == ["kw", "kw-short"]
    assert first["links"]["page"] == f"/runs/{built.run_a}"
    assert first["links"]["dagster_partition"].endswith(f"partition={built.run_a}")
    page = client.get("/")
    assert page.status_code == 200 and built.run_a in page.text and built.run_b in page.text


def test_a_run_shows_its_tree_by_default_and_an_alias_on_request(client):
    client, built = client
    view = client.get(f"/api/runs/{built.run_a}").json()
    assert view["summary_run"]["alias"] == "kw"  # the alias of the run's hierarchy
    assert view["hierarchy"]["alias"] == "kw" and view["tree"]
    assert len(view["clusters"]) == K and view["previous_run"] is None
    assert sum(root["queries"] for root in view["tree"]) == view["run"]["num_queries"]
    stored = view["run"]["label_measures"]["kw"]  # the fixture's titles skip them
    assert list(stored) == ["parents"] and 0 < stored["parents"]["member_fit"] <= 1
    fit = f"member fit {stored['parents']['member_fit']:.3f}"
    assert view["label_measures"]["parents"].startswith(fit)
    short = client.get(f"/api/runs/{built.run_a}", params={"alias": "kw-short"}).json()
    assert short["summary_run"]["alias"] == "kw-short" and short["tree"] is None
    page = client.get(f"/runs/{built.run_a}")
    assert page.status_code == 200
    assert view["tree"][0]["title"] in page.text and 'class="treemap"' in page.text
    assert f"parents: {fit}" in page.text
    labelled = [c for t in charts.treemap(view["tree"]) for c in t.children if c.labelled]
    assert labelled and page.text.count('class="sub-label"') == len(labelled)
    assert f'<span class="sub-label">{escape(labelled[0].node["title"])}</span>' in page.text
    assert client.get(f"/api/runs/{built.run_b}").json()["previous_run"] == built.run_a


def test_a_cluster_page_and_json(client):
    client, built = client
    cluster = _cluster_of(client, built.run_a, built.stolen)
    view = client.get(f"/api/runs/{built.run_a}/clusters/{cluster}").json()
    assert view["cluster_id"] == cluster and view["title"] and view["size"] > 1
    assert len(view["central_queries"]) == min(10, view["size"])
    assert view["members"]["total"] == view["size"]
    assert view["arrivals"]["by"] == "week" and sum(view["arrivals"]["counts"]) == view["size"]
    assert {link["direction"] for link in view["lineage"]} == {"to"}
    assert all(link["other_run_id"] == built.run_b for link in view["lineage"])
    assert view["moderation"]["with_moderation"] >= 1 and view["history"] == []
    page = client.get(f"/runs/{built.run_a}/clusters/{cluster}")
    assert page.status_code == 200 and "Lineage" in page.text and "Members" in page.text


def test_members_are_paged_and_filtered(client):
    client, built = client
    cluster = _cluster_of(client, built.run_a, built.stolen)
    route = f"/api/runs/{built.run_a}/clusters/{cluster}/members"
    found = client.get(route, params={"text": "CARD WAS stolen"}).json()
    assert [m["query_id"] for m in found["members"]] == [built.stolen]
    first, second = (client.get(route, params={"per_page": 1, "page": p}).json() for p in (1, 2))
    assert first["total"] == second["total"] and first["pages"] == first["total"]
    assert first["members"][0]["query_id"] != second["members"][0]["query_id"]
    assert client.get(route, params={"model": "no-such-llm"}).json()["total"] == 0
    english = client.get(route, params={"language": "English"}).json()
    assert english["total"] >= 1 and all(m["language"] == "English" for m in english["members"])
    page = client.get(f"/runs/{built.run_a}/clusters/{cluster}", params={"text": "card was stolen"})
    assert STOLEN in page.text


def test_a_query_in_every_run(client):
    client, built = client
    view = client.get(f"/api/queries/{built.stolen}").json()
    assert view["query_text"] == STOLEN
    assert {p["run_id"] for p in view["clusters"]} == {built.run_a, built.run_b}
    page = client.get(f"/queries/{built.stolen}")
    assert page.status_code == 200 and STOLEN in page.text


def test_search_finds_the_query_first_with_filters_before_ranking(client):
    client, built = client
    hits = client.get("/api/search", params={"q": STOLEN, "top_k": 3}).json()
    assert hits[0]["query_id"] == built.stolen and hits[0]["score"] > 0.99 and len(hits) == 3
    in_run = client.get(
        "/api/search", params={"q": STOLEN, "run_id": built.run_a, "language": "English"}
    ).json()
    assert in_run[0]["query_id"] == built.stolen
    assert in_run[0]["cluster_id"] == _cluster_of(client, built.run_a, built.stolen)
    other = client.get("/api/search", params={"q": STOLEN, "model": "no-such-llm"}).json()
    assert other == []
    page = client.get("/search", params={"q": STOLEN, "run_id": built.run_a})
    assert page.status_code == 200 and f'href="/queries/{built.stolen}"' in page.text
    assert client.get("/search").status_code == 200


def test_diff_trends_map_audit_and_docs(client):
    client, built = client
    report = client.get("/api/diff", params={"a": built.run_a, "b": built.run_b}).json()
    assert report["run_a"] == built.run_a and sum(report["counts"].values()) > 0
    assert client.get("/diff", params={"a": built.run_a, "b": built.run_b}).status_code == 200
    assert client.get("/diff").status_code == 200
    trends = client.get(f"/api/runs/{built.run_a}/trends", params={"by": "day"}).json()
    assert trends["by"] == "day" and len(trends["clusters"]) == K
    assert client.get(f"/runs/{built.run_a}/trends").status_code == 200
    points = client.get(f"/api/runs/{built.run_a}/map", params={"sample": 40}).json()
    assert points["levels"] >= 1 and 30 <= len(points["points"]) <= 40
    assert all(len(p["up"]) == points["levels"] for p in points["points"])
    assert client.get(f"/api/runs/{built.run_a}/edits").json() == []
    assert "/api/search" in client.get("/docs").text
    assert "/api/runs/{run_id}" in client.get("/openapi.json").json()["paths"]
    assert client.get("/api/session").json()["read_only"] is False


def test_downloads_go_through_the_export(client):
    client, built = client
    total = client.get(f"/api/runs/{built.run_a}").json()["run"]["num_queries"]
    answer = client.get(f"/runs/{built.run_a}/export", params={"format": "csv"})
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == total and "level_1_title" in rows[0]
    parquet = client.get(f"/runs/{built.run_a}/export", params={"format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == total


def test_unknown_ids_are_404_in_one_sentence(client):
    client, built = client
    run = built.run_a
    for path in (
        "/api/runs/no-such-run",
        "/api/runs/no-such-run/clusters/0",
        f"/api/runs/{run}/clusters/999",
        f"/api/runs/{run}/clusters/999/members",
        "/api/runs/no-such-run/trends",
        "/api/runs/no-such-run/map",
        "/api/runs/no-such-run/edits",
        "/api/queries/999999",
        "/api/diff?a=no-such-run&b=" + run,
        "/api/search?q=card&run_id=no-such-run",
        "/api/no-such-route",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        _one_sentence(answer)
    for path in ("/runs/no-such-run", f"/runs/{run}/clusters/999", "/queries/999999"):
        page = client.get(path)
        assert page.status_code == 404 and 'role="alert"' in page.text
        assert "Traceback" not in page.text


def test_bad_parameters_are_422_in_one_sentence(client):
    client, built = client
    run = built.run_a
    for path in (
        "/api/search?q=card&top_k=0",
        "/api/search?q=card&top_k=many",
        "/api/search",
        f"/api/runs/{run}/clusters/abc",
        f"/api/runs/{run}/clusters/0/members?page=0",
        f"/api/runs/{run}/clusters/0/members?per_page=100000",
        f"/api/runs/{run}/trends?by=year",
        f"/api/runs/{run}/map?projection=umap",
        f"/api/runs/{run}/map?sample=9",
        "/api/queries/abc",
    ):
        answer = client.get(path)
        assert answer.status_code == 422, path
        assert _one_sentence(answer).startswith("Parameter "), path
    assert client.get("/api/diff", params={"a": run, "b": run}).status_code == 422
    page = client.get(f"/runs/{run}/export", params={"format": "xml"})
    assert page.status_code == 422 and "Parameter format" in page.text


def test_the_map_never_draws_more_points_than_asked(sqlite_explorer, minilm):
    from lmsys_pipeline_tests.explorer.conftest import client_for

    url, built = sqlite_explorer
    with client_for(url, minilm) as client:
        for sample in (10, 25, 100):
            answer = client.get(f"/api/runs/{built.run_a}/map", params={"sample": sample})
            points = answer.json()["points"]
            assert len(points) <= sample, sample
            assert len({p["q"] for p in points}) == len(points)
