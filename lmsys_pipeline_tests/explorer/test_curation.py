"""Curation from the explorer: the ``lmsys edit`` functions with the editor in the audit row,
CSRF tokens, undo, and ``--read-only``."""

import re

import pytest

from lmsys_pipeline_tests.explorer.conftest import client_for


def _csrf(client) -> str:
    return client.get("/api/session").json()["csrf_token"]


def _cluster_of(client, run_id: str, query_id: int) -> int:
    places = client.get(f"/api/queries/{query_id}").json()["clusters"]
    return next(p["cluster_id"] for p in places if p["run_id"] == run_id)


def test_rename_from_the_api_then_undo(client):
    client, built = client
    cluster = _cluster_of(client, built.run_a, built.stolen)
    route = f"/api/runs/{built.run_a}/clusters/{cluster}"
    before = client.get(route).json()["title"]
    row = client.post(
        f"{route}/edit/rename",
        json={"alias": "kw", "title": "Stolen cards", "editor": "ana", "reason": "clearer"},
        headers={"X-CSRF-Token": _csrf(client)},
    ).json()
    assert row["edit_type"] == "rename" and row["editor"] == "ana" and row["reason"] == "clearer"
    view = client.get(route).json()
    assert view["title"] == "Stolen cards" and view["history"][0]["id"] == row["id"]
    assert view["undoable"] == row["id"]
    undo = client.post(
        f"/api/edits/{row['id']}/undo", json={}, headers={"X-CSRF-Token": _csrf(client)}
    ).json()
    assert undo["edit_type"] == "undo" and undo["editor"] == "tester"  # the server's default
    assert client.get(route).json()["title"] == before


def test_edits_from_forms_carry_the_csrf_token(client):
    client, built = client
    cluster = _cluster_of(client, built.run_a, built.stolen)
    page = f"/runs/{built.run_a}/clusters/{cluster}"
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(page).text)[1]
    answer = client.post(
        f"{page}/edit/tag",
        data={"csrf_token": token, "tags": "billing, fraud", "quality": "low", "coherence": "2",
              "notes": "cards", "editor": "bo"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303 and "edit=" in answer.headers["location"]
    shown = client.get(answer.headers["location"]).text
    assert "#billing" in shown and "quality low" in shown and "by bo" in shown
    view = client.get(f"/api/runs/{built.run_a}/clusters/{cluster}").json()
    assert view["tags"] == ["billing", "fraud"] and view["coherence"] == 2
    refused = client.post(f"{page}/edit/flag", data={"flags": "review"}, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    json_refused = client.post(f"/api/runs/{built.run_a}/clusters/{cluster}/edit/flag",
                               json={"flags": ["review"]})  # fmt: skip
    assert json_refused.status_code == 403 and "CSRF" in json_refused.json()["error"]


def test_move_merge_split_and_delete(client):
    client, built = client
    run = built.run_a
    headers = {"X-CSRF-Token": _csrf(client)}
    clusters = [c["cluster_id"] for c in client.get(f"/api/runs/{run}").json()["clusters"]]
    source = _cluster_of(client, run, built.stolen)
    target = next(c for c in clusters if c != source)
    moved = client.post(
        f"/api/runs/{run}/clusters/{source}/edit/move",
        json={"query_ids": [built.stolen], "to_cluster": target},
        headers=headers,
    ).json()
    assert moved["edit_type"] == "move_query" and _cluster_of(client, run, built.stolen) == target
    other = next(c for c in clusters if c not in (source, target))
    merged = client.post(
        f"/api/runs/{run}/clusters/{target}/edit/merge", json={"clusters": [other]}, headers=headers
    ).json()
    assert merged["edit_type"] == "merge"
    split = client.post(
        f"/api/runs/{run}/clusters/{target}/edit/split", json={"parts": 2}, headers=headers
    ).json()
    assert split["edit_type"] == "split"
    gone = client.post(
        f"/api/runs/{run}/clusters/{source}/edit/delete", json={"move_to": -1}, headers=headers
    ).json()
    assert gone["edit_type"] == "delete"
    assert client.get(f"/api/runs/{run}/clusters/{source}").status_code == 404
    audit = client.get(f"/api/runs/{run}/edits").json()
    assert [e["edit_type"] for e in audit] == ["move_query", "merge", "split", "delete"]
    bad = client.post(
        f"/api/runs/{run}/clusters/{target}/edit/merge", json={"clusters": [target]},
        headers=headers,
    )  # fmt: skip
    assert bad.status_code == 422 and "itself" in bad.json()["error"]
    early = client.post(f"/api/edits/{moved['id']}/undo", json={}, headers=headers)
    assert early.status_code == 422 and "undo edit" in early.json()["error"]
    assert client.post("/api/edits/99999/undo", json={}, headers=headers).status_code == 404
    missing = client.post(
        f"/api/runs/{run}/clusters/{target}/edit/move", json={"to_cluster": 1}, headers=headers
    )
    assert missing.status_code == 422 and missing.json()["error"].startswith("Parameter query_ids")


def test_read_only_shows_no_controls_and_refuses_edits(sqlite_explorer, minilm):
    url, built = sqlite_explorer
    with client_for(url, minilm, read_only=True) as client:
        cluster = _cluster_of(client, built.run_a, built.stolen)
        page = client.get(f"/runs/{built.run_a}/clusters/{cluster}").text
        assert "read-only" in page and "/edit/" not in page and "Curate" not in page
        token = client.get("/api/session").json()["csrf_token"]
        form = client.post(
            f"/runs/{built.run_a}/clusters/{cluster}/edit/rename",
            data={"csrf_token": token, "alias": "kw", "title": "x"},
        )
        assert form.status_code == 403 and "read-only" in form.text
        api = client.post(
            f"/api/runs/{built.run_a}/clusters/{cluster}/edit/rename",
            json={"alias": "kw", "title": "x"},
            headers={"X-CSRF-Token": token},
        )
        assert api.status_code == 403 and "read-only" in api.json()["error"]
        assert client.get(f"/api/runs/{built.run_a}/edits").json() == []


@pytest.mark.parametrize("kind", ["rename", "tag", "flag"])
def test_text_from_data_is_escaped_after_an_edit(sqlite_explorer, minilm, kind):
    """A title, tag or flag holding markup shows as text on every page that shows it."""
    url, built = sqlite_explorer
    evil = '<img src=x onerror="alert(3)">'
    fields = {
        "rename": {"alias": "kw", "title": evil},
        "tag": {"tags": [evil], "notes": evil},
        "flag": {"flags": [evil]},
    }[kind]
    with client_for(url, minilm) as client:
        cluster = _cluster_of(client, built.run_a, built.stolen)
        client.post(
            f"/api/runs/{built.run_a}/clusters/{cluster}/edit/{kind}",
            json=fields,
            headers={"X-CSRF-Token": _csrf(client)},
        ).raise_for_status()
        for page in (f"/runs/{built.run_a}", f"/runs/{built.run_a}/clusters/{cluster}"):
            text = client.get(page).text
            assert "<img src=x" not in text and "&lt;img src=x" in text
