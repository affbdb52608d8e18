"""What the explorer holds between requests (``explorer/held.py``): the run list, a run's tree
and clusters, a run's counts for its cluster pages and the map's projection are computed once,
and never served after the data changed — here changed by the ``lmsys edit`` functions on
their own connection, as another process would."""

from lmsys_pipeline.curation.edits import merge_clusters, move_queries, rename_cluster
from lmsys_pipeline.curation.replay import replay_edits
from lmsys_pipeline.db.connection import DatabaseManager
from lmsys_pipeline.explorer.held import data_stamp
from lmsys_pipeline.maintenance.deletion import delete_conversations
from lmsys_pipeline_tests.explorer.conftest import client_for


def _sizes(view: dict) -> dict[int, int]:
    return {c["cluster_id"]: c["size"] for c in view["clusters"]}


def _leaves(nodes: list[dict]) -> dict[int, int]:
    found = {}
    for node in nodes:
        if node["level"] == 0:
            found[node["cluster_id"]] = node["queries"]
        found.update(_leaves(node.get("children") or []))
    return found


def _cluster_of(client, run_id: str, query_id: int) -> int:
    places = client.get(f"/api/queries/{query_id}").json()["clusters"]
    return next(p["cluster_id"] for p in places if p["run_id"] == run_id)


def test_a_run_is_read_once_and_shown_anew_after_each_edit(explorer_db, minilm):
    url, built = explorer_db
    run = built.run_a
    outside = DatabaseManager(url)
    with client_for(url, minilm) as client:
        held = client.app.state.explorer.held
        before = client.get(f"/api/runs/{run}").json()
        computed = held.computed
        assert client.get(f"/api/runs/{run}").json() == before
        assert held.computed == computed  # served from what was held

        cluster = _cluster_of(client, run, built.stolen)
        rename_cluster(outside, run, cluster, alias="kw", title="Renamed elsewhere")
        titles = {
            c["cluster_id"]: c["title"] for c in client.get(f"/api/runs/{run}").json()["clusters"]
        }
        assert titles[cluster] == "Renamed elsewhere"

        target = next(c for c in _sizes(before) if c not in (cluster, -1))
        move_queries(outside, run, [built.stolen], target)
        moved = client.get(f"/api/runs/{run}").json()
        assert _sizes(moved)[cluster] == _sizes(before)[cluster] - 1
        assert _sizes(moved)[target] == _sizes(before)[target] + 1
        assert _leaves(moved["tree"])[target] == _leaves(before["tree"])[target] + 1
        page = client.get(f"/api/runs/{run}/clusters/{target}").json()
        assert page["size"] == _sizes(before)[target] + 1  # the cluster page's held counts too

        merge_clusters(outside, run, [cluster], target)
        merged = client.get(f"/api/runs/{run}").json()
        assert cluster not in _sizes(merged)
        assert _sizes(merged)[target] == _sizes(before)[target] + _sizes(before)[cluster]
        assert client.get(f"/api/runs/{run}/clusters/{cluster}").status_code == 404
        assert held.computed > computed
    outside.dispose()


def test_the_run_list_and_pages_forget_deleted_queries(explorer_db, minilm):
    """``lmsys delete`` writes no audit row and no new assignment: the vector version moves."""
    url, built = explorer_db
    outside = DatabaseManager(url)
    with client_for(url, minilm) as client:
        counts = {r["run_id"]: r["num_queries"] for r in client.get("/api/runs").json()}
        assert client.get(f"/api/queries/{built.stolen}").status_code == 200
        cluster = _cluster_of(client, built.run_a, built.stolen)
        size = client.get(f"/api/runs/{built.run_a}/clusters/{cluster}").json()["size"]
        delete_conversations(outside, ["planted-stolen"])
        after = {r["run_id"]: r["num_queries"] for r in client.get("/api/runs").json()}
        assert after == {run: n - 1 for run, n in counts.items()}
        view = client.get(f"/api/runs/{built.run_a}").json()
        assert view["run"]["num_queries"] == counts[built.run_a] - 1
        assert sum(_sizes(view).values()) == counts[built.run_a] - 1
        shown = client.get(f"/api/runs/{built.run_a}/clusters/{cluster}").json()["size"]
        assert shown == size - 1
    outside.dispose()


def test_replayed_edits_change_the_stamp(sqlite_explorer):
    """Replaying writes no audit row, so the run's parameters carry the mark."""
    url, built = sqlite_explorer
    db = DatabaseManager(url)
    with db.engine.connect() as connection:
        from sqlalchemy import select

        from lmsys_pipeline.db.models import QueryCluster

        query_id, cluster = connection.execute(
            select(QueryCluster.query_id, QueryCluster.cluster_id).where(
                QueryCluster.run_id == built.run_a, QueryCluster.cluster_id >= 0
            )
        ).first()
    target = cluster + 1 if cluster + 1 < 10 else 0
    move_queries(db, built.run_a, [query_id], target)
    stamp = data_stamp(db)
    assert data_stamp(db) == stamp
    assert replay_edits(db, built.run_a).applied
    assert data_stamp(db) != stamp
    db.dispose()


def test_the_map_projects_once_and_shows_moves_and_renames(sqlite_explorer, minilm):
    url, built = sqlite_explorer
    run = built.run_a
    outside = DatabaseManager(url)
    with client_for(url, minilm) as client:
        explorer = client.app.state.explorer
        route = f"/api/runs/{run}/map"
        first = client.get(route, params={"sample": 480}).json()
        assert client.get(route, params={"sample": 480}).json() == first
        assert explorer.projections.computed == 1 and explorer.maps.computed == 1
        point = next(p for p in first["points"] if p["q"] == built.stolen)
        target = next(p["c"] for p in first["points"] if p["c"] not in (point["c"], -1))
        move_queries(outside, run, [built.stolen], target)
        rename_cluster(outside, run, target, alias="kw", title="Cards, renamed")
        after = client.get(route, params={"sample": 480}).json()
        moved = next(p for p in after["points"] if p["q"] == built.stolen)
        assert moved["c"] == target and (moved["x"], moved["y"]) == (point["x"], point["y"])
        assert after["names"][str(target)] == "Cards, renamed"
        assert explorer.projections.computed == 1  # curation does not project again
        assert explorer.maps.computed == 2
    outside.dispose()
