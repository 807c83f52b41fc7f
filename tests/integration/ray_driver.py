"""A Ray driver process for the integration tests (run inside the cluster's network namespace).

Usage: ``python ray_driver.py '<json spec>'`` with ``store``, ``action`` ("predict", "cross_val"
or "slow_predict": :class:`SlowNet`, so that a run lasts long enough to lose a node in it),
``kwargs`` and optionally ``kill_after_shard`` / ``kill_after_fold`` (SIGKILL this process right
after that shard or fold is saved). Prints the run's parameters as one JSON line, or
``{"error": ..., "kind": ...}`` when the package raised one of its errors.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import torch


class SlowNet(torch.nn.Module):
    """A seeded tiny CNN that sleeps ``delay`` seconds per image (every process builds the same)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.delay = delay
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        if self.delay:
            time.sleep(self.delay * len(x))
        return self.head(self.conv(x).mean((2, 3)))


def main() -> None:
    spec = json.loads(sys.argv[1])
    import erroranalysis as ea
    from erroranalysis.errors import ErrorAnalysisError
    from erroranalysis.ingest import ray_engine

    if spec.get("kill_after_shard") is not None:
        target = int(spec["kill_after_shard"])

        def kill(shard: int) -> None:
            if shard == target:
                os.kill(os.getpid(), signal.SIGKILL)

        ray_engine._after_shard = kill
    if spec.get("kill_after_fold") is not None:
        target_fold = int(spec["kill_after_fold"])

        def kill_fold(fold: int) -> None:
            if fold == target_fold:
                os.kill(os.getpid(), signal.SIGKILL)

        ray_engine._after_fold = kill_fold
    store = ea.Store.open(spec["store"])
    try:
        if spec["action"] == "slow_predict":
            model = SlowNet(float(spec.get("delay", 0.1)))
            run = ea.predict(store, model, progress=False, **spec["kwargs"])
        elif spec["action"] == "predict":
            run = ea.predict(store, progress=False, **spec["kwargs"])
        else:
            run = ea.cross_val_predict(store, progress=False, **spec["kwargs"])
    except ErrorAnalysisError as error:
        print(json.dumps({"error": str(error), "kind": type(error).__name__}))
        sys.exit(3)
    print(json.dumps(run.info["parameters"]))


if __name__ == "__main__":
    main()
