import subprocess
import sys

import dagster as dg

from lmsys_pipeline.definitions import defs

HEAVY_MODULES = ("torch", "sentence_transformers", "sklearn", "hdbscan", "transformers")


def test_definitions_load_with_every_public_asset():
    repository = defs.get_repository_def()
    keys = {key.to_user_string() for key in repository.asset_graph.get_all_asset_keys()}
    assert {"lmsys_queries"} <= keys
    checks = {key.name for key in repository.asset_graph.asset_check_keys}
    assert {"queries_have_text", "queries_table_not_empty"} <= checks
    assert isinstance(defs.resources["database"], dg.ConfigurableResource)


def test_importing_definitions_imports_no_heavy_library():
    code = (
        "import sys, lmsys_pipeline.definitions\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == ""


def test_instance_settings_load_without_env_and_limit_the_writer_pool(tmp_path, monkeypatch):
    from pathlib import Path

    from lmsys_pipeline.dagster_home import ensure_dagster_home
    from lmsys_pipeline.definitions import defs as definitions
    from lmsys_pipeline.defs.resources import DB_WRITER_POOL

    home = ensure_dagster_home(tmp_path / "home")
    assert (home / "dagster.yaml").read_text() == Path("dagster.yaml").read_text()
    with dg.DagsterInstance.get() as instance:
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    asset = definitions.get_assets_def("lmsys_queries")
    assert asset.op.pool == DB_WRITER_POOL
