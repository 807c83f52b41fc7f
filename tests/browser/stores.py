"""Stores for the browser tests: real images, a run, and a real scan.

The browser tests are about the front-end, so the store is built fast and deterministically:
images from the embedded synthetic dataset (:func:`erroranalysis.datasets.make_synthetic`), a
"model" whose probabilities come from the dataset's truth plus noise (so it makes realistic
mistakes, and no model is trained), embeddings clustered by class, then the real ``ea.scan``.
The only shortcut: the 2-D projection uses the PCA layout (:data:`FAST_SCAN_PARAMS`), since a
UMAP of 10,000 points costs minutes on a busy 2-core machine and is tested elsewhere.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

RUN = "browser-test"

#: Size of the store the dashboard test opens (N = 10k: the size of the latency target).
DASHBOARD_SAMPLES = 10_000

#: Scan parameters for the browser tests (the notebook under test is run with the same ones).
FAST_SCAN_PARAMS = {"projection": {"method": "pca"}}


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def build_store(path: Path, n_samples: int = 10_000, image_size: int = 32, seed: int = 0) -> dict:
    """Build a store of ``n_samples`` synthetic images with one scanned run at ``path``.

    Parameters
    ----------
    path : Path
        Where the store goes; the images go to ``<path>-images``.
    n_samples, image_size, seed
        Passed to :func:`erroranalysis.datasets.make_synthetic`.

    Returns
    -------
    dict
        ``path``, ``run``, ``n_samples``, ``classes``, ``seconds`` (whole build) and
        ``scan_seconds``.
    """
    import erroranalysis as ea
    from erroranalysis.datasets import make_synthetic

    started = time.perf_counter()
    path = Path(path)
    data = make_synthetic(
        path.parent / f"{path.name}-images",
        n_samples=n_samples,
        image_size=image_size,
        seed=seed,
        progress=False,
        overwrite=True,
    )
    store = data.create_store(path, overwrite=True)
    classes = list(store.classes)
    k = len(classes)
    rng = np.random.default_rng(seed)
    truth = data.truth.set_index("sample_id").reindex(store.sample_ids)
    true = truth["true_label"].map({c: i for i, c in enumerate(classes)})
    true = np.where(true.isna(), rng.integers(0, k, len(true)), true).astype(np.int64)
    n = store.num_samples
    logits = rng.normal(0.0, 1.0, size=(n, k))
    logits[np.arange(n), true] += 3.0
    probs = _softmax(logits).astype(np.float32)
    centres = rng.normal(0.0, 4.0, size=(k, 16))
    embeddings = (centres[true] + rng.normal(0.0, 1.5, size=(n, 16))).astype(np.float32)
    store.add_run(RUN, probs, embeddings=embeddings, out_of_sample=True, model="browser-test")
    scan_started = time.perf_counter()
    ea.scan(store, run=RUN, progress=False, params=FAST_SCAN_PARAMS)
    return {
        "path": str(path),
        "run": RUN,
        "n_samples": n,
        "classes": classes,
        "seconds": round(time.perf_counter() - started, 2),
        "scan_seconds": round(time.perf_counter() - scan_started, 2),
    }


def start_build(path: Path, n_samples: int = 10_000, image_size: int = 32):
    """Start :func:`build_store` in a subprocess (so it overlaps other work); see
    :func:`finish_build`."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, __file__, str(path), str(n_samples), str(image_size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_build(process, timeout: float = 600.0) -> dict:
    """Wait for a build started by :func:`start_build`; return its result dict."""
    import json

    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"building the browser-test store failed:\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1])


#: The run of :func:`build_saliency_store`, its timm model and the model's input size.
SALIENCY_RUN = "cnn"
SALIENCY_MODEL = "resnet10t"
SALIENCY_INPUT = 64


def build_saliency_store(path: Path, n_samples: int = 60, image_size: int = 96) -> dict:
    """A small scanned store whose run records its model, so the inspector can run Grad-CAM.

    ``ea.predict`` with a timm name (``resnet10t``, random weights, ``pretrained=False``) at
    :data:`SALIENCY_INPUT` px: the run records ``model_source`` (timm name, seed 0), so a kernel
    in another process re-creates the same model. The maps mean nothing (the model is untrained);
    the browser test only needs them to exist. The images (``image_size`` px, larger than the
    model's input and different from the inspector's thumbnail) are what the zoom shows.

    Returns
    -------
    dict
        ``path``, ``run``, ``n_samples``, ``image_size``, ``input_size``, ``seconds``.
    """
    import warnings

    import erroranalysis as ea
    from erroranalysis.datasets import make_synthetic

    started = time.perf_counter()
    path = Path(path)
    data = make_synthetic(
        path.parent / f"{path.name}-images",
        n_samples=n_samples,
        image_size=image_size,
        progress=False,
        overwrite=True,
    )
    store = data.create_store(path, overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # in-sample predictions: irrelevant to these tests
        ea.predict(
            store, SALIENCY_MODEL, run=SALIENCY_RUN, image_size=SALIENCY_INPUT,
            num_workers=0, progress=False, embeddings=True,
        )  # fmt: skip
        ea.scan(store, run=SALIENCY_RUN, progress=False, params=FAST_SCAN_PARAMS)
    return {
        "path": str(path),
        "run": SALIENCY_RUN,
        "n_samples": store.num_samples,
        "image_size": image_size,
        "input_size": SALIENCY_INPUT,
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    import json
    import sys

    info = build_store(Path(sys.argv[1]), n_samples=int(sys.argv[2]), image_size=int(sys.argv[3]))
    print(json.dumps(info))
