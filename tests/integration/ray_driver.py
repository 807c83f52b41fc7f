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


def _workers(session: int) -> list[int]:
    """Pids of the Ray Data model actors (``ray::MapWorker…``) of the cluster's session."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().decode(errors="replace")
            with open(f"/proc/{entry}/stat") as handle:
                sid = int(handle.read().rsplit(")", 1)[1].split()[3])
        except (OSError, ValueError, IndexError):
            continue
        if sid == session and command.startswith("ray::MapWorker"):
            pids.append(int(entry))
    return pids


def kill_worker_mid_run(ea, ray_engine, store, spec: dict) -> dict:
    """Predict with a slow model, SIGKILL the model actor's process after the first shard."""
    import time

    import torch

    class SlowNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.conv = torch.nn.Conv2d(3, 8, 3)
            self.head = torch.nn.Linear(8, 3)

        def forward(self, x):
            time.sleep(0.05 * len(x))  # slow enough that the kill lands mid-run
            return self.head(self.conv(x).mean((2, 3)))

    killed: list[int] = []

    def kill(shard: int) -> None:
        if shard == 0 and not killed:
            for pid in _workers(int(spec["session"])):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    ray_engine._after_shard = kill
    model = SlowNet()
    run = ea.predict(store, model, progress=False, **spec["kwargs"])
    ray_engine._after_shard = None
    local = ea.predict(store, model, run="local", image_size=32, progress=False)
    return {
        "killed": killed,
        "rows": int(run.probs.shape[0]),
        "max_diff": float(abs(run.probs - local.probs).max()),
        "parameters": run.info["parameters"],
    }


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
    if spec["action"] == "kill_worker":
        print(json.dumps(kill_worker_mid_run(ea, ray_engine, store, spec)))
        return
    if spec["action"] == "predict":
        run = ea.predict(store, progress=False, **spec["kwargs"])
    else:
        run = ea.cross_val_predict(store, progress=False, **spec["kwargs"])
    print(json.dumps(run.info["parameters"]))


if __name__ == "__main__":
    main()
