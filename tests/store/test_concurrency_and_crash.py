"""Several processes writing at once, and a writer killed mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import erroranalysis as ea
from tests.conftest import CLASSES, make_samples

WRITER = Path(__file__).with_name("_writer.py")
REPO = Path(__file__).resolve().parents[2]


def start_writer(store_path, mode: str, count: int, seed: int) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(store_path), mode, str(count), str(seed)],
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )


@pytest.mark.slow
def test_two_processes_relabel_at_once_and_lose_nothing(tmp_path):
    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=make_samples(50))
    writers = [start_writer(store.path, "relabel", 1000, seed) for seed in (1, 2)]
    outputs = [writer.communicate(timeout=300)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]
    acknowledged = [
        line.split() for out in outputs for line in out.splitlines() if line.startswith("ack")
    ]
    assert len(acknowledged) == 2000
    assert store.refresh()
    events = store.events()
    assert len(events) == 2000
    assert sorted(events["event_id"]) == sorted(int(ack[1]) for ack in acknowledged)
    assert events.groupby("author").size().to_dict() == {"writer1": 1000, "writer2": 1000}
    assert store.journal.integrity_check() == "ok"
    # the current label of each sample is its last relabel, whichever process wrote it
    last = events.groupby("sample_id")["label"].last()
    assert store.labels()[last.index].astype(str).tolist() == last.tolist()
    # previous_label chains correctly across the two writers
    for _, group in events.groupby("sample_id"):
        labels = group["label"].tolist()
        assert group["previous_label"].tolist()[1:] == labels[:-1]


@pytest.mark.slow
def test_writer_killed_at_random_points_loses_no_acknowledged_event(tmp_path):
    rng = np.random.default_rng(7)
    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=make_samples(2000))
    acknowledged: dict[int, tuple[str, str]] = {}
    published: set[str] = set()
    checked: set[str] = set()  # runs already seen whole (their files are never rewritten)
    rounds = 20
    for round_number in range(rounds):
        writer = start_writer(store.path, "runs", 10_000, seed=100 + round_number)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.05, 0.6)))
        os.kill(writer.pid, signal.SIGKILL)
        remaining, _ = writer.communicate()
        for line in remaining.splitlines():
            parts = line.split()
            if parts and parts[0] == "ack":
                acknowledged[int(parts[1])] = (parts[2], parts[3])
            elif parts and parts[0] == "run":
                published.add(parts[1])

        reopened = ea.Store.open(store.path)
        assert reopened.journal.integrity_check() == "ok"
        events = reopened.events().set_index("event_id")
        for event_id, (sample, label) in acknowledged.items():
            assert events.loc[event_id, "sample_id"] == sample
            assert events.loc[event_id, "label"] == label
        runs = reopened.runs()
        assert published <= set(runs)
        # every visible run is whole: each new one now, and all of them again after the last kill
        # (checking all of them every round made the test quadratic in the runs a fast machine
        # publishes: 292 s of a 12-minute suite)
        last_round = round_number == rounds - 1
        for name in runs if last_round else sorted(set(runs) - checked):
            checked.add(name)
            run = reopened.run(name)
            assert run.probs.shape == (2000, 3)
            assert run.embeddings.shape == (2000, 64)
            np.testing.assert_allclose(
                np.asarray(run.probs, dtype=np.float64).sum(axis=1), 1, rtol=1e-4
            )
        reopened.close()
    assert len(acknowledged) > 20, "the writer was killed too early to test anything"
    assert published, "no run was published before a kill: the run check tested nothing"
