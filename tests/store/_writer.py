"""A writer process for the concurrency and crash tests (run as a script)."""

from __future__ import annotations

import sys

import numpy as np

import erroranalysis as ea


def main() -> None:
    path, mode, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = ea.Store.open(path)
    rng = np.random.default_rng(seed)
    ids, classes = list(store.sample_ids), store.classes
    print("ready", flush=True)
    for step in range(count):
        sample = ids[int(rng.integers(len(ids)))]
        label = classes[int(rng.integers(len(classes)))]
        if mode == "runs" and step % 5 == 0:
            probs = rng.dirichlet(np.ones(len(classes)), size=len(ids)).astype(np.float32)
            store.add_run(f"run{seed}-{step}", probs, embeddings=rng.normal(size=(len(ids), 64)))
            print(f"run run{seed}-{step}", flush=True)
        event_id = store.relabel(sample, label, author=f"writer{seed}")
        # Acknowledged: the commit returned, so the event must survive anything from here on.
        print(f"ack {event_id} {sample} {label}", flush=True)


if __name__ == "__main__":
    main()
