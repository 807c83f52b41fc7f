"""The embedded demo: generated images → store → k-fold predictions → scan → what was found.

:func:`build_demo` needs nothing from the internet. It writes one folder that *is* the store
(``Store.open(out_dir)`` works, so the quickstart notebook's default ``demo-store`` opens it)::

    demo-store/
      store.json, samples.parquet, journal.sqlite, runs/demo/ …   the store
      data/images/*.png                                          the image root
      data/truth.parquet                                         planted truth, never in the UI
      demo.json                                                  parameters, timings, findings

>>> import erroranalysis as ea
>>> result = ea.datasets.build_demo("demo-store")        # doctest: +SKIP
>>> print(result.summary())                              # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, StoreExistsError

if TYPE_CHECKING:
    from erroranalysis.store import Run, Store

__all__ = [
    "DEFAULTS",
    "DemoResult",
    "build_demo",
    "demo_defaults",
    "evaluate_detection",
    "is_demo_store",
    "load_demo_result",
]

#: Demo data and fold count. The training settings (model, epochs, image size, batch size,
#: learning rate) default to the ``DEMO_*`` values that :mod:`erroranalysis.ingest.cross_val`
#: measured to fit the 3-minute budget on 2 CPU cores; see :func:`demo_defaults`.
DEFAULTS: dict[str, Any] = {"n_samples": 2000, "folds": 5}

DEMO_FILE = "demo.json"
DATA_DIR = "data"
RUN_NAME = "demo"


@dataclass
class DemoResult:
    """What :func:`build_demo` built and found.

    Attributes
    ----------
    store_path : Path
        The store (open it with ``ea.Store.open(store_path)``).
    truth_path : Path
        The planted truth (``data/truth.parquet``), for scoring only.
    run : str
        The run holding the out-of-sample predictions.
    num_samples : int
        Number of images.
    accuracy : dict
        Out-of-sample accuracy of the model against the *true* labels: ``common`` (samples in no
        weak-spot subgroup, outliers excluded), ``all`` (every non-outlier), one entry per weak
        subgroup, and ``given`` (against the given, partly wrong labels, as a user would see it).
    detection : dict or None
        Recall/precision of the planted problems found by the scan (see
        :func:`evaluate_detection`), or None when no scan ran.
    seconds : dict
        Wall time of each step (``generate``, ``store``, ``train``, ``scan``, ``total``).
    parameters : dict
        The configuration used.
    machine : dict
        Where the times were measured (:func:`erroranalysis.machine.machine_info`): CPU model,
        AVX-512/AMX, torch's CPU capability and threads.
    """

    store_path: Path
    truth_path: Path
    run: str
    num_samples: int
    accuracy: dict[str, float]
    detection: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """A few readable lines: accuracy, planted problems found, timings, where the store is."""
        acc = self.accuracy
        lines = [
            f"demo store: {self.store_path} ({self.num_samples} images, run {self.run!r}, "
            f"{self.parameters.get('folds')}-fold {self.parameters.get('model_name')}, "
            f"{self.parameters.get('epochs')} epochs)",
            f"  out-of-sample accuracy vs true labels: {_pct(acc.get('common'))} on common "
            f"samples, {_pct(acc.get('all'))} overall; vs given labels {_pct(acc.get('given'))}",
        ]
        weak = [
            f"{name} {_pct(value)}"
            for name, value in acc.items()
            if name not in ("common", "all", "given")
        ]
        if weak:
            lines.append("  weak subgroups: " + ", ".join(weak))
        if self.detection:
            text = self.detection.get("text")
            if text:
                lines.extend("  " + line for line in text.splitlines())
        else:
            lines.append("  (no scan: run `erroranalysis scan` to find the planted problems)")
        timing = ", ".join(f"{k} {v:.0f}s" for k, v in self.seconds.items())
        lines.append(f"  time: {timing}")
        if self.machine:
            from erroranalysis.machine import machine_description

            lines.append(f"  machine: {machine_description(self.machine)}")
        return "\n".join(lines)


def _pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.1%}"


def is_demo_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by :func:`build_demo` (complete or not)."""
    path = Path(path)
    return (path / DEMO_FILE).is_file() or (path / DATA_DIR / "dataset.json").is_file()


def demo_defaults() -> dict[str, Any]:
    """The demo's default configuration (data size, folds and the measured training settings).

    Returns
    -------
    dict
        ``n_samples``, ``folds``, ``epochs``, ``model_name``, ``image_size``, ``batch_size``,
        ``lr``, ``model_kwargs``.
    """
    from erroranalysis.ingest import cross_val

    return {
        **DEFAULTS,
        "epochs": int(cross_val.DEMO_EPOCHS),
        "model_name": str(cross_val.DEMO_MODEL),
        "image_size": int(cross_val.DEMO_IMAGE_SIZE),
        "batch_size": int(cross_val.DEMO_BATCH_SIZE),
        "lr": float(cross_val.DEMO_LR),
        "model_kwargs": dict(cross_val.DEMO_MODEL_KWARGS),
    }


def build_demo(
    out_dir: str | os.PathLike | None = None,
    n_samples: int | None = None,
    folds: int | None = None,
    epochs: int | None = None,
    model_name: str | None = None,
    seed: int = 0,
    scan: bool = True,
    progress: bool = True,
    *,
    image_size: int | None = None,
    batch_size: int | None = None,
    overwrite: bool = False,
    out: str | os.PathLike | None = None,
    verbose: bool | None = None,
    **cross_val_kwargs: Any,
) -> DemoResult:
    """Build the embedded demo end to end.

    Generates the synthetic shapes dataset (:func:`~erroranalysis.datasets.make_synthetic`),
    creates the store, trains ``model_name`` from scratch with ``folds``-fold cross-validation for
    out-of-sample probabilities and embeddings (:func:`erroranalysis.cross_val_predict`), scans it
    (:func:`erroranalysis.scan`) and scores what the scan found against the planted truth.

    Parameters
    ----------
    out_dir : path-like, optional
        The folder to create; it becomes the store (default ``demo-store``). ``out`` is an alias.
    n_samples : int, optional
        Number of images (default 2,000).
    folds : int, optional
        Cross-validation folds (default 5).
    epochs : int, optional
        Training epochs per fold (default: ``cross_val.DEMO_EPOCHS``).
    model_name : str, optional
        A timm model name, trained from scratch (``pretrained=False``; default
        ``cross_val.DEMO_MODEL``).
    seed : int
        Seed of the data and of the training.
    scan : bool
        Run :func:`erroranalysis.scan` and score the findings.
    progress : bool
        Show progress bars.
    image_size : int, optional
        Size the images are resized to for training (they are generated at 64 pixels; default
        ``cross_val.DEMO_IMAGE_SIZE``).
    batch_size : int, optional
        Training batch size (default ``cross_val.DEMO_BATCH_SIZE``).
    overwrite : bool
        Replace an existing demo at ``out_dir`` (only a folder written by ``build_demo`` is ever
        deleted).
    out : path-like, optional
        Alias of ``out_dir``.
    verbose : bool, optional
        Print the summary at the end (default: same as ``progress``).
    **cross_val_kwargs
        Passed on to :func:`erroranalysis.cross_val_predict` (``lr`` and ``model_kwargs``
        default to the demo's measured values).

    Returns
    -------
    DemoResult

    Raises
    ------
    StoreExistsError
        If ``out_dir`` exists and ``overwrite`` is False, or it exists and is not a demo.
    """
    from erroranalysis.datasets.synthetic import make_synthetic
    from erroranalysis.machine import machine_info
    from erroranalysis.store import Store

    if out_dir is not None and out is not None and Path(out_dir) != Path(out):
        raise TypeError("pass out_dir or out, not both")
    out_dir = Path(out_dir if out_dir is not None else out if out is not None else "demo-store")
    verbose = progress if verbose is None else verbose
    if out_dir.exists():
        if not overwrite:
            raise StoreExistsError(
                f"{out_dir} already exists; open it with ea.Store.open({str(out_dir)!r}), or "
                "rebuild it with overwrite=True (--overwrite)"
            )
        if any(out_dir.iterdir()) and not is_demo_store(out_dir):
            raise StoreExistsError(
                f"{out_dir} exists and is not a demo built by erroranalysis; refusing to replace "
                "it. Choose another folder (--out)."
            )
    defaults = demo_defaults()
    n_samples = int(defaults["n_samples"] if n_samples is None else n_samples)
    folds = int(defaults["folds"] if folds is None else folds)
    epochs = int(defaults["epochs"] if epochs is None else epochs)
    model_name = str(defaults["model_name"] if model_name is None else model_name)
    image_size = int(defaults["image_size"] if image_size is None else image_size)
    batch_size = int(defaults["batch_size"] if batch_size is None else batch_size)
    cross_val_kwargs.setdefault("lr", defaults["lr"])
    if model_name == defaults["model_name"]:
        cross_val_kwargs.setdefault("model_kwargs", defaults["model_kwargs"] or None)
    parameters = {
        "n_samples": n_samples,
        "folds": folds,
        "epochs": epochs,
        "model_name": model_name,
        "image_size": image_size,
        "batch_size": batch_size,
        "seed": int(seed),
        **{k: v for k, v in cross_val_kwargs.items() if k in ("lr", "model_kwargs")},
    }
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    # 1. the data, generated next to the final place, then moved inside the store folder
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.build-", dir=out_dir.parent))
    created = False
    try:
        dataset = make_synthetic(
            staging / DATA_DIR, n_samples=n_samples, seed=seed, progress=progress
        )
        seconds["generate"] = time.perf_counter() - started

        # 2. the store: image root = out_dir/data (absolute), data moved in after creation
        step = time.perf_counter()
        if out_dir.exists():
            shutil.rmtree(out_dir)
        store = Store.create(
            out_dir,
            classes=dataset.classes,
            samples=dataset.samples,
            image_root=out_dir / DATA_DIR,
        )
        created = True
        os.replace(staging / DATA_DIR, out_dir / DATA_DIR)
        seconds["store"] = time.perf_counter() - step
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    truth = dataset.truth
    truth_path = out_dir / DATA_DIR / "truth.parquet"

    # 3. out-of-sample predictions
    step = time.perf_counter()
    from erroranalysis.ingest.cross_val import cross_val_predict

    run = cross_val_predict(
        store,
        model_name,
        folds=folds,
        epochs=epochs,
        image_size=image_size,
        batch_size=batch_size,
        pretrained=False,
        run=RUN_NAME,
        random_state=seed,
        progress=progress,
        **cross_val_kwargs,
    )
    seconds["train"] = time.perf_counter() - step

    # 4. scan (if the analysis package is there) and scoring against the truth
    detection = None
    if scan:
        step = time.perf_counter()
        try:
            from erroranalysis.analysis.scan import scan as run_scan
        except ImportError:
            run_scan = None
        if run_scan is not None:
            run_scan(store, run.name, progress=progress)
            detection = evaluate_detection(store, run, truth)
            seconds["scan"] = time.perf_counter() - step
    accuracy = _accuracy(store, run, truth)
    seconds["total"] = time.perf_counter() - started

    result = DemoResult(
        store_path=out_dir,
        truth_path=truth_path,
        run=run.name,
        num_samples=store.num_samples,
        accuracy=accuracy,
        detection=detection,
        seconds={k: round(v, 2) for k, v in seconds.items()},
        parameters=parameters,
        machine=machine_info(),
    )
    record = asdict(result)
    record["store_path"] = str(out_dir.resolve())
    record["truth_path"] = str(truth_path.resolve())
    record["created"] = time.time()
    (out_dir / DEMO_FILE).write_text(json.dumps(_jsonable(record), indent=2) + "\n")
    if verbose:
        print(result.summary())
    return result


def load_demo_result(path: str | os.PathLike) -> DemoResult | None:
    """The :class:`DemoResult` recorded in a complete demo folder, or None."""
    file = Path(path) / DEMO_FILE
    if not file.is_file():
        return None
    record = json.loads(file.read_text())
    return DemoResult(
        store_path=Path(path),
        truth_path=Path(path) / DATA_DIR / "truth.parquet",
        run=record["run"],
        num_samples=int(record["num_samples"]),
        accuracy=record["accuracy"],
        detection=record.get("detection"),
        seconds=record.get("seconds", {}),
        parameters=record.get("parameters", {}),
        machine=record.get("machine", {}),
    )


def _accuracy(store: Store, run: Run, truth: pd.DataFrame) -> dict[str, float]:
    """Out-of-sample accuracy against the true labels, overall, on common samples, per subgroup."""
    truth = truth.set_index("sample_id").reindex(store.sample_ids)
    predicted = np.asarray(run.probs, dtype=np.float32).argmax(axis=1)
    index = {name: i for i, name in enumerate(store.classes)}
    true = truth["true_label"].map(index).fillna(-1).to_numpy(dtype=np.int64)
    outlier = truth["is_outlier"].fillna(False).to_numpy(dtype=bool)
    subgroup = truth["subgroup"].fillna("").astype(str).to_numpy()
    correct = predicted == true
    out = {
        "common": _mean(correct[~outlier & (subgroup == "")]),
        "all": _mean(correct[~outlier]),
    }
    for name in sorted(set(subgroup) - {""}):
        out[name] = _mean(correct[subgroup == name])
    out["given"] = _mean(predicted == store.given_codes)
    return out


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def evaluate_detection(store: Store, run: Run | str | None, truth: pd.DataFrame) -> dict[str, Any]:
    """Score a scanned run's findings against the planted truth.

    Uses :func:`erroranalysis.analysis.truth.score_detection`: label-noise recall and
    precision of ``is_label_issue``, outliers among the top outlier scores, near-duplicate pairs
    found, and for each weak subgroup the best-matching slice and its rank.

    Parameters
    ----------
    store : Store
    run : Run, str or None
        The scanned run (None: the latest).
    truth : DataFrame
        The truth table of :func:`~erroranalysis.datasets.make_synthetic`.

    Returns
    -------
    dict
        The scores, plus ``text``: readable lines.
    """
    from erroranalysis.analysis.truth import format_detection, score_detection

    try:
        scores = score_detection(store, run, truth)
    except ErrorAnalysisError as error:
        return {"error": str(error), "text": f"could not score detection: {error}"}
    text = format_detection(scores)
    scores = _jsonable(scores)
    scores["text"] = text
    return scores


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
