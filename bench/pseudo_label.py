"""Pseudo-labelling yield: per-class thresholds against one global threshold (issue 13).

A probability-level simulation with known truth (tests/analysis/test_pseudo_label.py: 20,000
samples, 5 classes with class-dependent miscalibration, 60 % of the labels hidden). ``ours`` is
``ea.pseudo_label(target_precision=0.98)``'s per-class plan; the global threshold is the lowest
single confidence threshold whose *true* precision on the unlabelled samples reaches the plan's
true precision (equal measured precision), so the comparison favours the global threshold.

    python bench/pseudo_label.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(target: float = 0.98) -> dict:
    import numpy as np

    import erroranalysis as ea
    from tests.analysis.test_pseudo_label import CLASSES, make

    with tempfile.TemporaryDirectory() as folder:
        store, truth = make(Path(folder))
        plan = ea.pseudo_label(store, target_precision=target)
        chosen = plan.selection()
        right = chosen["label"].to_numpy() == truth[chosen["sample_id"]].to_numpy()
        unlabelled = ~store.is_labelled()
        conf = plan.confidence_[unlabelled]
        correct = np.asarray(CLASSES)[plan.predicted_[unlabelled]] == truth.to_numpy()[unlabelled]
        order = np.argsort(-conf, kind="stable")
        running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
        reach = np.flatnonzero(running >= right.mean())
        equal = int(reach.max() + 1) if reach.size else 0
        estimated = plan.global_
        picked = unlabelled & (plan.confidence_ >= estimated["threshold"])
        truth_codes = np.asarray([store.class_index[c] for c in truth])
        return {
            "summary": plan.summary(),
            "unlabelled": int(unlabelled.sum()),
            "per_class_yield": len(chosen),
            "per_class_precision": float(right.mean()),
            "per_class_min": float(chosen.assign(ok=right).groupby("label")["ok"].mean().min()),
            "global_equal_yield": equal,
            "global_equal_threshold": float(conf[order][equal - 1]) if equal else float("nan"),
            "global_estimated_yield": int(estimated["yield"]),
            "global_estimated_precision": float(
                (plan.predicted_[picked] == truth_codes[picked]).mean()
            ),
        }


if __name__ == "__main__":
    from erroranalysis.machine import machine_description

    print(machine_description())
    result = run()
    print(result.pop("summary"))
    for key, value in result.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
