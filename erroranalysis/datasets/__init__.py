"""Embedded datasets: the procedurally generated demo data and small real-data adapters.

- :func:`make_synthetic`: coloured shapes with planted label noise, weak spots, near-duplicates
  and outliers (truth kept in a separate table);
- :func:`load_digits`: scikit-learn's handwritten digits as RGB images;
- :func:`build_demo`: the whole demo (data, store, k-fold predictions, scan, detection summary).
"""

from __future__ import annotations

from erroranalysis.datasets.demo import DemoResult, build_demo, evaluate_detection
from erroranalysis.datasets.digits import DigitsDataset, load_digits
from erroranalysis.datasets.synthetic import CLASSES, SyntheticDataset, make_synthetic

__all__ = [
    "CLASSES",
    "DemoResult",
    "DigitsDataset",
    "SyntheticDataset",
    "build_demo",
    "evaluate_detection",
    "load_digits",
    "make_synthetic",
]
