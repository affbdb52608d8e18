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
