"""UMAP with its compiled code kept on disk between processes.

umap-learn compiles about a hundred numba functions the first time a process fits a model:
~20 s on these 2 cores, paid by every ``lmsys cluster``, every Dagster run process that
clusters or draws a map, and every worker of the test suite. pynndescent keeps its compiled
code (its decorators say ``cache=True``); umap-learn's do not. Turning numba's cache on for
them does what ``cache=True`` would: the next process loads the code in well under a second.
numba keeps it beside the package's source when that folder is writable, else under
``NUMBA_CACHE_DIR`` or the user's cache folder, and recompiles when umap-learn or the CPU
changes. Where no folder is writable the functions stay uncached, as before."""

from functools import cache
from types import ModuleType


@cache
def load_umap() -> ModuleType:
    """The ``umap`` module, its compiled functions cached on disk where numba can."""
    import umap
    import umap.distances
    import umap.layouts
    import umap.sparse
    import umap.spectral
    import umap.umap_
    import umap.utils
    from numba.core.dispatcher import Dispatcher

    modules = (umap.umap_, umap.layouts, umap.distances, umap.sparse, umap.spectral, umap.utils)
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Dispatcher):
                try:
                    value.enable_caching()
                except RuntimeError:  # numba found no writable folder for this module
                    return umap
    return umap
