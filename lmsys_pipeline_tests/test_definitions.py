import os
import subprocess
import sys

import dagster as dg
import pytest

from lmsys_pipeline.definitions import defs

HEAVY_MODULES = (
    "torch",
    "sentence_transformers",
    "sklearn",
    "hdbscan",
    "fast_hdbscan",
    "transformers",
    "umap",
    "numba",
    "pynndescent",
    "faiss",
)


def test_definitions_load_with_every_public_asset():
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {"lmsys_queries"} <= keys
    checks = {key.name for key in repository.asset_graph.asset_check_keys}
    assert {"queries_have_text", "queries_table_not_empty"} <= checks
    assert set(defs.resources) == {"database", "embedder", "explorer", "llm", "progress"}
    assert all(isinstance(r, dg.ConfigurableResource) for r in defs.resources.values())
    assert defs.executor == dg.in_process_executor


@pytest.mark.subprocess
def test_importing_definitions_imports_no_heavy_library():
    """Not even the clustering registry with its reducers: UMAP and numba cost seconds."""
    code = (
        "import sys, lmsys_pipeline.definitions, lmsys_pipeline.clustering.registry\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_instance_settings_load_without_env_and_limit_the_writer_pool(tmp_path, monkeypatch):
    from pathlib import Path

    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.definitions import defs as definitions
    from lmsys_pipeline.defs.resources import DB_WRITER_POOL

    home = ensure_dagster_home(tmp_path / "home")
    assert (home / "dagster.yaml").read_text() == Path("dagster.yaml").read_text()
    assert "DAGSTER_HOME" not in os.environ  # the folder is returned, not set as a side channel
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    asset = definitions.get_assets_def("lmsys_queries")
    assert asset.op.pool == DB_WRITER_POOL


def test_every_asset_has_a_description_and_the_pipeline_order_holds():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert len(graph.get(key).description or "") > 40, key
    assert graph.get(dg.AssetKey("cluster_summaries")).parent_keys == {dg.AssetKey("cluster_run")}
    assert graph.get(dg.AssetKey("cluster_run")).parent_keys == {dg.AssetKey("query_embeddings")}


@pytest.mark.subprocess
def test_the_webserver_serves_the_asset_graph_over_graphql(tmp_path):
    """The real UI server on 127.0.0.1 with the project's workspace, asked over GraphQL."""
    import json
    import os
    import socket
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    webserver = Path(sys.executable).parent / "dagster-webserver"
    server = subprocess.Popen(
        [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    query = "{ assetNodes { assetKey { path } description groupName isPartitioned } }"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(
                    f"{base}/graphql",
                    data=json.dumps({"query": query}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    nodes = json.load(response)["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the webserver did not answer in 120 s"
            time.sleep(1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    found = {"/".join(node["assetKey"]["path"]): node for node in nodes}
    assert {"lmsys_queries", "query_embeddings", "cluster_run", "cluster_summaries"} <= set(found)
    assert found["cluster_summaries"]["isPartitioned"] and found["cluster_run"]["isPartitioned"]
    assert all(node["description"] for node in found.values())
