"""The Dagster definitions, loaded from the ``defs`` folder: every asset, check, job,
schedule and sensor in ``lmsys_pipeline/defs/<stage>/`` and the resources and executor of
``defs/resources.py``. Nothing is listed by hand, so the folder is the one source of truth
(``dg check defs`` and ``dagster definitions validate`` load this same object).

Kept light on purpose: heavy libraries (torch, sentence-transformers, sklearn) are imported
inside the functions that use them, so every ``dagster`` command and step process starts fast.
"""

from pathlib import Path

import dagster as dg

# The project root holds pyproject.toml, whose [tool.dg] names the defs module: run from a
# source checkout (an editable install, as `make setup` does, or an image that copies it).
defs = dg.load_from_defs_folder(path_within_project=Path(__file__).resolve().parent)
