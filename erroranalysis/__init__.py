"""erroranalysis: interactive error analysis of image classifiers in JupyterLab.

One durable store holds the samples, the model runs and a journal of every label change; analyses
cache their results in it and linked notebook widgets render them.

>>> import erroranalysis as ea
>>> store = ea.Store.open("demo-store")          # doctest: +SKIP
>>> ea.scan(store)                                # doctest: +SKIP
>>> ea.show(store)                                # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from erroranalysis import errors
from erroranalysis.store import Run, Store

__version__ = "0.1.0"

# Heavy parts (torch, timm, cleanlab, plotly, umap) load only when first used, so that
# ``import erroranalysis`` stays fast.
_LAZY = {
    "predict": ("erroranalysis.ingest.predict", "predict"),
    "cross_val_predict": ("erroranalysis.ingest.cross_val", "cross_val_predict"),
    "ingest_folder": ("erroranalysis.ingest.folder", "ingest_folder"),
    "ingest_manifest": ("erroranalysis.ingest.manifest", "ingest_manifest"),
    "load_image": ("erroranalysis.ingest.images", "load_image"),
    "scan": ("erroranalysis.analysis.scan", "scan"),
    "project": ("erroranalysis.analysis.projection", "project"),
    "compare_runs": ("erroranalysis.analysis.evaluation", "compare_runs"),
    "explain": ("erroranalysis.analysis.saliency", "explain"),
    "pseudo_label": ("erroranalysis.analysis.pseudo_label", "pseudo_label"),
    "annotation_queue": ("erroranalysis.analysis.annotation_queue", "annotation_queue"),
    "annotator_quality": ("erroranalysis.analysis.consensus", "annotator_quality"),
    "export_queue": ("erroranalysis.export.queue", "export_queue"),
    "register_model": ("erroranalysis.ingest.run_model", "register_model"),
    "attach_metric": ("erroranalysis.analysis.scores", "attach_metric"),
    "show": ("erroranalysis.widgets.dashboard", "show"),
    "Selection": ("erroranalysis.widgets.selection", "Selection"),
    "export_candidates": ("erroranalysis.export.candidates", "export_candidates"),
    "import_annotations": ("erroranalysis.export.annotations", "import_annotations"),
    "report": ("erroranalysis.export.report", "report"),
    "flag_weak_spot": ("erroranalysis.export.weak_spots", "flag_weak_spot"),
    "export_weak_spots": ("erroranalysis.export.weak_spots", "export_weak_spots"),
    "datasets": ("erroranalysis.datasets", None),
}

__all__ = ["Run", "Store", "__version__", "errors", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'erroranalysis' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
