"""The shared prediction store: samples, runs and the label journal (single source of truth).

This package imports nothing else of erroranalysis but its errors.
"""

from erroranalysis.store.run import Run
from erroranalysis.store.store import FORMAT_VERSION, Store

__all__ = ["FORMAT_VERSION", "Run", "Store"]
