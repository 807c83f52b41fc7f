"""A Ray driver process for the integration tests (run inside the cluster's network namespace).

Usage: ``python ray_driver.py '<json spec>'`` with ``store``, ``action`` ("predict" or
"cross_val"), ``kwargs`` and optionally ``kill_after_shard`` (SIGKILL this process right after
that shard file is written). Prints the run's parameters as one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    import erroranalysis as ea
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
    if spec["action"] == "predict":
        run = ea.predict(store, progress=False, **spec["kwargs"])
    else:
        run = ea.cross_val_predict(store, progress=False, **spec["kwargs"])
    print(json.dumps(run.info["parameters"]))


if __name__ == "__main__":
    main()
