"""engine="ray" against a real local Ray cluster: a head node and a worker node process (one CPU
each) in a loopback-only network namespace.

The cluster is started once for the module (about 30 s on these machines) and shared by every
test; each Ray driver is its own process inside the cluster's network namespace, and the
local-engine references are computed in this process. The tests that lose or add a worker node
run last and leave the cluster as they found it (head + one worker node).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea

from . import ray_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

CLASSES = ["red", "green", "blue"]
MODEL = "test_resnet"  # timm's tiny test network; seeded, so every process builds the same one


def colour_store(tmp_path, count: int = 20, size: int = 32, seed: int = 0) -> ea.Store:
    """``count`` noisy images whose dominant colour is the label, in two sizes."""
    rng = np.random.default_rng(seed)
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(count):
        label = i % len(CLASSES)
        pixels = rng.integers(0, 90, (size, size + 4 * (i % 2), 3))
        pixels[..., label] += 150
        path = f"images/{i:03d}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(root / path)
        rows.append({"sample_id": f"s{i:03d}", "label": CLASSES[label], "path": path})
    return ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=pd.DataFrame(rows), image_root=root
    )


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray", reason='Ray is missing: pip install "erroranalysis[ray]"')
    reason = ray_cluster.usable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    head = ray_cluster.RayCluster(num_cpus=1, worker_cpus=1)
    head.start()
    try:
        yield head
    finally:
        head.stop()


def parameters(done) -> dict:
    """The driver's JSON line (Ray may print other lines after it)."""
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, (done.stdout[-2000:], done.stderr[-2000:])
    return json.loads(lines[-1])


def test_ray_predictions_equal_the_local_engine(cluster, tmp_path):
    store = colour_store(tmp_path)
    local = ea.predict(store, MODEL, run="local", image_size=32, progress=False)
    done = cluster.driver(
        {
            "store": str(store.path),
            "action": "predict",
            "kwargs": {
                "model": MODEL,
                "run": "ray",
                "image_size": 32,
                "chunk_size": 8,
                "batch_size": 4,
                "engine": "ray",
                "address": ray_cluster.ADDRESS,
            },
        }
    )
    info = parameters(done)
    store = ea.Store.open(store.path)
    ray_run = store.run("ray")
    np.testing.assert_allclose(ray_run.probs, local.probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ray_run.embeddings, local.embeddings, rtol=1e-4, atol=1e-5)
    assert info["engine"] == "ray" and local.info["parameters"]["engine"] == "local"
    assert info["cluster"]["CPU"] == 2 and info["cluster"]["nodes"] == 2
    assert info["cluster"]["node_cpus"] == [1.0, 1.0]
    # One 1-CPU model replica per node (a 2-CPU replica would fit on neither).
    assert info["num_workers"] == 2 and info["cpus_per_worker"] == 1.0
    assert info["device"] == "cpu" and info["precision"] == "fp32" and info["shard_size"] == 8
    assert info["resumed_samples"] == 0 and info["seconds_per_image"] > 0
    assert info["cpu_seconds_per_image"] >= info["seconds_per_image"]
    assert not (store.path / ".work" / "ray-predict-ray").exists()
    print(
        "per-image cost on the tiny store (20 images, 32 px, test_resnet): "
        f"local {local.info['parameters']['seconds_per_image'] * 1e3:.2f} ms, "
        f"ray {info['seconds_per_image'] * 1e3:.2f} ms "
        f"({info['cpu_seconds_per_image'] * 1e3:.2f} CPU-ms)"
    )


def test_killed_driver_publishes_nothing_and_the_rerun_resumes(cluster, tmp_path):
    store = colour_store(tmp_path, count=20)
    spec = {
        "store": str(store.path),
        "action": "predict",
        "kwargs": {
            "model": MODEL,
            "run": "resumed",
            "image_size": 32,
            "chunk_size": 8,
            "engine": "ray",
            "address": ray_cluster.ADDRESS,
        },
        "kill_after_shard": 1,
    }
    killed = cluster.driver(spec, check=False)
    assert killed.returncode == -9, killed.stderr[-3000:]
    store = ea.Store.open(store.path)
    assert "resumed" not in store.runs()  # nothing partial was published
    staging = store.path / ".work" / "ray-predict-resumed"
    finished = sorted(path.name for path in staging.glob("shard-*.parquet"))
    assert finished == ["shard-00000.parquet", "shard-00001.parquet"]

    spec.pop("kill_after_shard")
    info = parameters(cluster.driver(spec))
    assert info["resumed_samples"] == 16  # the two finished shards were not recomputed
    store = ea.Store.open(store.path)
    run = store.run("resumed")
    assert run.probs.shape == (20, 3) and not staging.exists()
    local = ea.predict(store, MODEL, run="local", image_size=32, progress=False)
    np.testing.assert_allclose(run.probs, local.probs, rtol=1e-4, atol=1e-6)


def test_ray_cross_validation_equals_the_local_engine(cluster, tmp_path):
    store = colour_store(tmp_path, count=20)
    settings = {"folds": 2, "epochs": 1, "image_size": 16, "batch_size": 8, "random_state": 3}
    local = ea.cross_val_predict(store, MODEL, run="local-cv", progress=False, **settings)
    done = cluster.driver(
        {
            "store": str(store.path),
            "action": "cross_val",
            "kwargs": {
                "model_name": MODEL,
                "run": "ray-cv",
                "engine": "ray",
                "address": ray_cluster.ADDRESS,
                **settings,
            },
        }
    )
    info = parameters(done)
    store = ea.Store.open(store.path)
    ray_run = store.run("ray-cv")
    # The folds train with one thread each on Ray and two here: sums may round differently.
    np.testing.assert_allclose(ray_run.probs, local.probs, atol=2e-3)
    np.testing.assert_allclose(ray_run.embeddings, local.embeddings, rtol=1e-2, atol=2e-3)
    assert info["engine"] == "ray" and local.info["parameters"]["engine"] == "local"
    assert info["ray"]["tasks"] == 2 and info["ray"]["cluster"]["CPU"] == 2
    assert info["ray"]["cluster"]["nodes"] == 2 and info["ray"]["cpus_per_fold"] == 1.0
    assert info["fold_accuracy"] == local.info["parameters"]["fold_accuracy"]
    assert ray_run.out_of_sample
    assert (
        store.run("ray-cv").load_result("folds")["fold"] == local.load_result("folds")["fold"]
    ).all()
    assert sorted(p.name for p in (ray_run.path / "models").glob("fold-*.pt")) == [
        "fold-0.pt",
        "fold-1.pt",
    ]
    assert not (store.path / ".work" / "ray-cv-ray-cv").exists()


def test_killed_worker_node_mid_run_then_rerun_gives_every_sample_once(cluster, tmp_path):
    """SIGKILL the worker node (raylet, agents, its model actor) once shards are being written.

    The node is replaced at once (as a cluster manager would); the call either survives the loss
    (Ray restarts the actor and retries its batches) or fails with a one-line error that keeps
    the finished shards. Either way, after at most one rerun the run holds every sample exactly
    once, equal to the local engine's.
    """
    from .ray_driver import SlowNet

    store = colour_store(tmp_path, count=48)
    staging = store.path / ".work" / "ray-predict-survived"
    spec = {
        "store": str(store.path),
        "action": "slow_predict",
        "delay": 0.15,
        "kwargs": {
            "run": "survived",
            "image_size": 32,
            "chunk_size": 4,
            "batch_size": 2,
            "engine": "ray",
            "address": ray_cluster.ADDRESS,
        },
    }
    driver = subprocess.Popen(
        cluster.driver_command(spec),
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not list(staging.glob("shard-*.parquet")):
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "no shard was written within 300 s"
            time.sleep(0.05)
        actors = [
            pid
            for pid in cluster.worker_pids()
            if ray_cluster.process_name(pid).startswith("ray::MapWorker")
        ]
        written_before = len(list(staging.glob("shard-*.parquet")))
        killed = cluster.kill_worker()
        assert actors, "the worker node ran no model actor when it was killed"
        assert set(actors) <= set(killed)
        cluster.start_worker()  # the lost node is replaced, as a cluster manager would
        stdout, stderr = driver.communicate(timeout=400)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert written_before < 12, "the run had finished before the node was killed"
    first = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])
    if driver.returncode == 0:
        info = first  # Ray restarted the actor on the new node and retried its batches
    else:
        # The loss failed the call: one line, the finished shards kept; the rerun resumes.
        assert driver.returncode == 3 and "\n" not in first["error"], (first, stderr[-3000:])
        assert first["kind"] == "EngineError" and "rerun resumes" in first["error"]
        assert "survived" not in ea.Store.open(store.path).runs()
        info = parameters(cluster.driver(spec))
        assert info["resumed_samples"] >= 4 * written_before
    run = ea.Store.open(store.path).run("survived")
    assert run.probs.shape == (48, 3)
    assert not staging.exists()
    local = ea.predict(store, SlowNet(), run="local", image_size=32, progress=False)
    np.testing.assert_allclose(run.probs, local.probs, rtol=1e-4, atol=1e-6)
    print(
        f"worker node killed after {written_before} of 12 shards "
        f"({len(killed)} processes, {len(actors)} model actor); "
        + ("the call survived" if driver.returncode == 0 else "the call failed, the rerun resumed")
    )


def test_a_node_without_the_package_is_one_line(cluster, tmp_path):
    """A node whose Python cannot import erroranalysis: a one-line error naming the install."""
    store = colour_store(tmp_path, count=6)
    cluster.kill_worker()
    cluster.start_worker(package=False)
    try:
        done = cluster.driver(
            {
                "store": str(store.path),
                "action": "predict",
                "kwargs": {
                    "model": MODEL,
                    "run": "nowhere",
                    "image_size": 32,
                    "engine": "ray",
                    "address": ray_cluster.ADDRESS,
                },
            },
            check=False,
        )
    finally:
        cluster.kill_worker()
        cluster.start_worker()
    assert done.returncode == 3, done.stderr[-3000:]
    error = parameters(done)["error"]
    assert "\n" not in error and "cannot import erroranalysis" in error
    assert error.endswith('pip install "erroranalysis[ray]"')
    assert "nowhere" not in ea.Store.open(store.path).runs()
