"""Getting data in: image folders and manifests, safe image loading, timm inference and k-fold
out-of-sample predictions.

Heavy dependencies (torch, timm) load only when :func:`predict` or :func:`cross_val_predict` is
first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_image": "erroranalysis.ingest.images",
    "check_images": "erroranalysis.ingest.images",
    "ingest_folder": "erroranalysis.ingest.folder",
    "ingest_manifest": "erroranalysis.ingest.manifest",
    "read_manifest": "erroranalysis.ingest.manifest",
    "predict": "erroranalysis.ingest.predict",
    "cross_val_predict": "erroranalysis.ingest.cross_val",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    try:
        module_name = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'erroranalysis.ingest' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
