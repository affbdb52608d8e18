"""The Dagster definitions, loaded from the ``defs`` folder: every asset, check, job,
schedule and sensor in ``lmsys_pipeline/defs/<stage>/`` and the resources and executor of
``defs/resources.py``. Nothing is listed by hand, so the folder is the one source of truth
(``dg check defs`` and ``dagster definitions validate`` load this same object).

Kept light on purpose: heavy libraries (torch, sentence-transformers, sklearn) are imported
inside the functions that use them, so every ``dagster`` command and step process starts fast.
"""

import dagster as dg

import lmsys_pipeline.defs

defs = dg.load_defs(defs_root=lmsys_pipeline.defs)
