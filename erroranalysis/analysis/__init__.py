"""Pure computations over the store: confusion, scores, cleanlab issues, projection, slices.

Each analysis is one module holding one class registered by name (see
:mod:`erroranalysis.analysis.base`); :func:`erroranalysis.analysis.scan.scan` runs them and caches
their results in the run, where the widgets read them (widgets never compute).

>>> from erroranalysis.analysis import analysis_names
>>> analysis_names()[:3]
['scores', 'confusion', 'label_issues']
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

__all__ = ["MODULES", "analysis_names", "numba_cache_dir"]

#: Analysis modules, in the order the scan runs them (later ones read earlier results).
MODULES: tuple[str, ...] = (
    "scores",
    "confusion",
    "label_issues",
    "image_properties",
    "outliers",
    "near_duplicates",
    "projection",
    "slices",
    "evaluation",
    "dataset_checks",
)


#: Modules of this package that hold no analysis (never imported by :func:`_load_all`).
_NOT_ANALYSES = frozenset({"base", "scan", "truth", "issue_types"})


def _load_all() -> None:
    """Import every analysis module: those of :data:`MODULES`, then any other module file of
    this package (so a new analysis is one new file; it runs after the listed ones)."""
    import pkgutil

    for module in MODULES:
        importlib.import_module(f"erroranalysis.analysis.{module}")
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in MODULES or info.name in _NOT_ANALYSES:
            continue
        try:
            importlib.import_module(f"erroranalysis.analysis.{info.name}")
        except ImportError as error:  # an optional extra of a module that is no analysis
            import warnings

            warnings.warn(
                f"erroranalysis.analysis.{info.name} was not loaded ({error}); if it holds an "
                "analysis, install what it needs or add it to _NOT_ANALYSES",
                stacklevel=2,
            )


def analysis_names() -> list[str]:
    """Names of the registered analyses, in scan order."""
    from erroranalysis.analysis.base import REGISTRY

    _load_all()
    return [name for name in MODULES if name in REGISTRY] + [
        name for name in REGISTRY if name not in MODULES
    ]


def numba_cache_dir() -> Path:
    """Point numba's on-disk cache at a per-user folder (unless ``NUMBA_CACHE_DIR`` is set).

    UMAP's and pynndescent's compiled functions are then reused between sessions, which turns a
    cold first UMAP call (tens of seconds of compilation) into a warm one.
    """
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = str(Path(base) / "erroranalysis" / "numba")
        os.environ["NUMBA_CACHE_DIR"] = folder
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)
