"""Linked notebook views over one store: they render store columns and write one shared Selection.

Each view is one module and usable on its own; :func:`show` composes them all.

>>> import erroranalysis as ea
>>> dashboard = ea.show(ea.Store.open("demo-store"))   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "VIEWS",
    "ConfusionMatrix",
    "Dashboard",
    "EmbeddingScatter",
    "Gallery",
    "Inspector",
    "IssueTable",
    "Selection",
    "SliceTable",
    "ThumbnailCache",
    "show",
]

#: The views by name (the registry): name → (module, class).
VIEWS: dict[str, tuple[str, str]] = {
    "confusion": ("erroranalysis.widgets.confusion", "ConfusionMatrix"),
    "gallery": ("erroranalysis.widgets.gallery", "Gallery"),
    "scatter": ("erroranalysis.widgets.scatter", "EmbeddingScatter"),
    "issues": ("erroranalysis.widgets.issues", "IssueTable"),
    "slices": ("erroranalysis.widgets.slices", "SliceTable"),
    "inspector": ("erroranalysis.widgets.inspector", "Inspector"),
}

_LAZY = {
    **{cls: (module, cls) for module, cls in VIEWS.values()},
    "Dashboard": ("erroranalysis.widgets.dashboard", "Dashboard"),
    "show": ("erroranalysis.widgets.dashboard", "show"),
    "Selection": ("erroranalysis.widgets.selection", "Selection"),
    "ThumbnailCache": ("erroranalysis.widgets.thumbnails", "ThumbnailCache"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'erroranalysis.widgets' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
