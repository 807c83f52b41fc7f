"""Out-of-sample predictions by k-fold training of a timm model on the store's labels.

Label-issue detection needs probabilities from models that never saw the sample they score.
:func:`cross_val_predict` splits the samples into stratified folds, trains one model per fold on
the other folds (from scratch, or from pretrained weights where they can be had) and predicts the
held-out fold with it, so every sample gets probabilities (and embeddings) from a model that did
not train on it.

The images are read once into one uint8 tensor in memory, so epochs do not decode files again;
this suits the small images that error analysis usually runs on (resize larger ones with
``image_size``).

>>> import erroranalysis as ea
>>> run = ea.cross_val_predict(store, "resnet10t", folds=5, epochs=10)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, StoreExistsError
from erroranalysis.ingest import _torch_data, run_model

if TYPE_CHECKING:
    import torch

    from erroranalysis.store import Run, Store

__all__ = [
    "DEMO_BATCH_SIZE",
    "DEMO_EPOCHS",
    "DEMO_IMAGE_SIZE",
    "DEMO_LR",
    "DEMO_MODEL",
    "DEMO_MODEL_KWARGS",
    "cross_val_predict",
]

logger = logging.getLogger(__name__)

#: The settings of the embedded demo's full k-fold run (``erroranalysis.datasets.demo.STAGES
#: ["full"]``, run ``demo``; five folds of these): timm's tiny ``test_resnet`` (0.37 M
#: parameters) trained from scratch at 32 px, batch 64, for 20 epochs at a peak learning rate of
#: 0.012 on 2,000 64×64 synthetic shapes. Held-out accuracy grows with the number of optimiser
#: steps far more than with the width of the network, so a tiny network trained longer beats a
#: larger one trained briefly: 98.4 % on clean common samples, label-noise recall 0.82 at
#: precision 0.78, 160 CPU-seconds of training in all on one thread of a 2-core AMD EPYC (AVX2) —
#: where the ``resnet10t`` these settings replaced needed 777 s for 96 % (BENCHMARKS.md, "The
#: staged demo"). A test keeps these equal to the demo's stage.
DEMO_MODEL = "test_resnet"
DEMO_MODEL_KWARGS: dict[str, Any] = {}
DEMO_EPOCHS = 20
DEMO_IMAGE_SIZE = 32
DEMO_BATCH_SIZE = 64
DEMO_LR = 1.2e-2

_EMBEDDINGS = ("first_fold", "full", "none")
_LABELS = ("current", "given")


def cross_val_predict(
    store: Store,
    model_name: str,
    folds: int = 5,
    epochs: int = 10,
    image_size: int | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    pretrained: bool = False,
    run: str | None = None,
    random_state: int = 0,
    num_workers: int | None = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    *,
    model_kwargs: dict[str, Any] | None = None,
    weight_decay: float = 0.05,
    label_smoothing: float = 0.1,
    labels: str = "current",
    save_models: bool = True,
    embeddings: str = "first_fold",
    channels_last: bool = True,
    dtype: str = "float32",
    overwrite: bool = False,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
) -> Run:
    """Out-of-sample probabilities and embeddings for every sample by stratified k-fold training.

    For each of ``folds`` stratified folds (scikit-learn's ``StratifiedKFold``, shuffled with
    ``random_state``), a fresh timm model is trained on the other folds with AdamW and a one-cycle
    schedule, light augmentation (horizontal flip, random shifts of up to 1/8 of the image) and
    label smoothing, in channels-last memory format; it then predicts the held-out fold. The run
    is recorded with ``out_of_sample=True``, and a per-sample result ``folds`` (column ``fold``)
    says which fold's model predicted each sample.

    Parameters
    ----------
    store : Store
        The store; its samples need a ``path`` column.
    model_name : str
        A timm model name (see ``timm.list_models()``), created with
        ``num_classes=store.num_classes``. For small images a small network trains fastest
        (``DEMO_MODEL`` is what the demo uses).
    folds : int
        Number of folds (at least 2).
    epochs : int
        Training epochs per fold.
    image_size : int, optional
        Train and predict at this size (square); default: the images' own size (images of
        another size are resized to the first one's).
    batch_size : int
        Training batch size.
    lr : float
        Peak learning rate of the one-cycle schedule.
    pretrained : bool
        Start from timm's pretrained weights (needs them to be downloadable or cached).
    run : str, optional
        Run name; default ``"<model_name>-cv<folds>"``.
    random_state : int
        Seeds the fold split, the weight initialisation, the batch order and the augmentation;
        the same seed gives the same predictions on the same machine.
    num_workers : int, optional
        Threads decoding the images (once, before training); default one per core beyond two.
    progress : bool
        Show progress bars (loading, then one step per fold and epoch).
    device : str or torch.device, optional
        Default: CUDA when available, else the CPU.
    model_kwargs : dict, optional
        Extra keyword arguments for ``timm.create_model`` (for example ``drop_rate``).
    weight_decay : float
        AdamW weight decay.
    label_smoothing : float
        Label smoothing of the cross-entropy loss (makes the models less overconfident on
        noisy labels).
    labels : {"current", "given"}
        Train on the current labels (given labels plus the journal's relabels) or the given ones.
    embeddings : {"first_fold", "full", "none"}
        Embeddings of different fold models live in different spaces and cannot be mixed, so the
        run's embeddings come from one model for every sample: ``"first_fold"`` (the first fold's
        model; free), ``"full"`` (an extra model trained on all samples) or ``"none"``.
    channels_last : bool
        Train and predict in channels-last memory format.
    dtype : {"float32", "float16"}
        Storage type of the probabilities and embeddings.
    overwrite : bool
        Replace an existing run of the same name.
    save_models : bool
        Keep each fold's weights in the run folder (``models/fold-<k>.pt``, float16), so that
        Grad-CAM explains a sample with the fold model that did not train on it.
    engine : {"local", "processes", "ray"}
        Train the folds one after another here (``"local"``); side by side in ``workers`` local
        worker processes, one torch thread each (``"processes"``: the cores are shared out by
        folds, which suits small networks that gain little from more threads; the images are
        read once here and shared with the workers); or as separate Ray tasks on a cluster, side
        by side (``"ray"``, the optional extra ``pip install "erroranalysis[ray]"``): the driver
        reads the images once and puts them into Ray's object store; finished folds are kept in
        ``<store>/.work/ray-cv-<run>/`` so a rerun resumes. Same seeds, same splits, same run
        (``"processes"`` equals ``"local"`` run on one torch thread).
    address : str, optional
        With ``engine="ray"``: the cluster (see :func:`erroranalysis.ingest.ray_engine.connect`).
    workers : int, optional
        With ``engine="processes"``: the number of worker processes; default one per fold job,
        at most ``os.cpu_count()``.

    Returns
    -------
    Run
        The new run. ``run.info["parameters"]`` holds the settings, the held-out accuracy of
        each fold (against the labels trained on) and the time taken.

    Raises
    ------
    StoreExistsError
        If the run exists and ``overwrite`` is False.
    ErrorAnalysisError
        On bad parameters (too few samples for the folds, unknown model name …).
    BadImageError
        Naming unreadable images.
    """
    import torch

    started = time.perf_counter()
    if engine not in ("local", "processes", "ray"):
        raise ErrorAnalysisError(f"engine must be 'local', 'processes' or 'ray'; got {engine!r}")
    if engine == "ray":
        from erroranalysis.ingest.ray_engine import require_ray

        require_ray()
    elif address is not None:
        raise ErrorAnalysisError("address only applies to engine='ray'")
    if workers is not None:
        if engine != "processes":
            raise ErrorAnalysisError("workers only applies to engine='processes'")
        if isinstance(workers, bool) or int(workers) != workers or workers < 1:
            raise ErrorAnalysisError(f"workers must be a positive integer; got {workers!r}")
        workers = int(workers)
    folds = int(folds)
    if folds < 2:
        raise ErrorAnalysisError(f"folds must be at least 2; got {folds}")
    if epochs < 1 or batch_size < 1:
        raise ErrorAnalysisError(
            f"epochs and batch_size must be positive; got {epochs} and {batch_size}"
        )
    if labels not in _LABELS:
        raise ErrorAnalysisError(f"labels must be 'current' or 'given'; got {labels!r}")
    if embeddings not in _EMBEDDINGS:
        raise ErrorAnalysisError(
            f"embeddings must be one of {', '.join(_EMBEDDINGS)}; got {embeddings!r}"
        )
    if dtype not in ("float32", "float16"):
        raise ErrorAnalysisError(f"dtype must be 'float32' or 'float16'; got {dtype!r}")
    run = run if run is not None else f"{model_name}-cv{folds}"
    if run in store.runs() and not overwrite:
        raise StoreExistsError(
            f"run {run!r} already exists in {store.path}; pass overwrite=True to replace it or "
            "run=... to choose another name"
        )
    codes = np.asarray(store.label_codes() if labels == "current" else store.given_codes)
    codes = codes.astype(np.int64)
    n = len(codes)
    if n < folds:
        raise ErrorAnalysisError(
            f"{folds} folds need at least {folds} samples; the store has {n}; use fewer folds"
        )
    torch_device = _torch_data.resolve_device(device)
    num_classes = store.num_classes

    threads = _torch_data.default_num_workers() if num_workers is None else int(num_workers)
    images = _torch_data.load_image_tensor(store, image_size, progress=progress, workers=threads)
    size = int(images.shape[-1]) if image_size is None else int(image_size)
    # Unlabelled samples (code -1) are never trained on: each fold's model predicts them and
    # their probabilities are the mean over the folds (out-of-sample for them too).
    labelled = codes >= 0
    unlabelled_positions = np.flatnonzero(~labelled)
    if int(labelled.sum()) < folds:
        raise ErrorAnalysisError(
            f"{folds} folds need at least {folds} labelled samples; the store has "
            f"{int(labelled.sum())}; label more samples or use fewer folds"
        )
    assignment = np.full(n, -1, dtype=np.int64)
    assignment[labelled] = _split(codes[labelled], folds, random_state, store.classes)

    with torch.random.fork_rng(devices=[]):
        probe = _create(model_name, pretrained, num_classes, model_kwargs, seed=random_state)
    mean, std = _normalisation(probe)
    del probe

    steps = math.ceil(int(labelled.sum()) * (folds - 1) / folds / batch_size) * epochs
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = folds * epochs + (epochs if embeddings == "full" else 0)
        bar = tqdm(total=total, desc="cross-validation", unit="epoch")
    trainer = _Trainer(
        images=images,
        codes=torch.from_numpy(codes),
        mean=mean,
        std=std,
        device=torch_device,
        channels_last=channels_last,
        batch_size=batch_size,
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        label_smoothing=label_smoothing,
        bar=bar,
    )
    probs = np.zeros((n, num_classes), dtype=np.float32)
    emb: np.ndarray | None = None
    fold_accuracy: list[float] = []
    fold_states: list[dict[str, Any]] = []
    jobs = _fold_jobs(folds, assignment, labelled, embeddings, random_state)
    spec = {
        "model_name": model_name,
        "pretrained": pretrained,
        "num_classes": num_classes,
        "model_kwargs": model_kwargs,
        "save_model": save_models,
    }
    ray_info: dict[str, Any] | None = None
    process_info: dict[str, Any] | None = None
    if engine == "processes" and workers is None:
        from erroranalysis.ingest.process_engine import default_workers

        workers = default_workers(len(jobs))
    try:
        with torch.random.fork_rng(devices=[]):
            if engine == "ray":
                from erroranalysis.ingest import ray_engine

                results, ray_info = ray_engine.cross_val_folds(
                    store, run, trainer, jobs, spec, folds=folds, address=address, bar=bar
                )
            elif engine == "processes":
                from erroranalysis.ingest import process_engine

                results, process_info = process_engine.cross_val_folds(
                    trainer, jobs, spec, folds=folds, workers=int(workers or 1), bar=bar
                )
            else:
                results = (_run_fold(trainer, job, spec, folds, bar) for job in jobs)
            for job, (fold_probs, fold_emb, state) in zip(jobs, results, strict=True):
                if job.fold == folds:  # the extra embedding model trained on all samples
                    emb = fold_emb
                    continue
                if save_models:
                    fold_states.append(state)
                held_out = np.flatnonzero(assignment == job.fold)
                if job.embed:
                    probs[held_out] = fold_probs[held_out]
                    probs[unlabelled_positions] += fold_probs[unlabelled_positions] / folds
                    emb = fold_emb
                else:
                    probs[held_out] = fold_probs[: len(held_out)]
                    probs[unlabelled_positions] += fold_probs[len(held_out) :] / folds
                accuracy = float((probs[held_out].argmax(1) == codes[held_out]).mean())
                fold_accuracy.append(round(accuracy, 4))
                if bar is not None:
                    bar.set_postfix(held_out_acc=f"{accuracy:.3f}")
    finally:
        if bar is not None:
            bar.close()

    np_dtype = np.float16 if dtype == "float16" else np.float32
    if np_dtype == np.float16:
        probs = (probs / probs.sum(1, keepdims=True)).astype(np.float16)
    accuracy = float((probs.argmax(1)[labelled] == codes[labelled]).mean())
    parameters = {
        "method": "stratified k-fold cross-validation",
        "folds": folds,
        "epochs": int(epochs),
        "image_size": size,
        "batch_size": int(batch_size),
        "lr": float(lr),
        "weight_decay": float(weight_decay),
        "label_smoothing": float(label_smoothing),
        "optimizer": "AdamW",
        "schedule": "one-cycle (linear warm-up 25%, cosine decay)",
        "augmentation": "hflip, random shift up to 1/8",
        "pretrained": bool(pretrained),
        "model_kwargs": dict(model_kwargs or {}),
        "random_state": int(random_state),
        "labels": labels,
        "label_version": int(store.label_version) if labels == "current" else 0,
        "embeddings": embeddings,
        "device": torch_device.type,
        "channels_last": bool(channels_last),
        "steps_per_fold": int(steps),
        "fold_accuracy": fold_accuracy,
        "accuracy": round(accuracy, 4),
        "seconds": round(time.perf_counter() - started, 2),
        "engine": engine,
        "workers": workers,
        **({"ray": ray_info} if ray_info is not None else {}),
        **({"fold_seconds": process_info["fold_seconds"]} if process_info is not None else {}),
        "model_source": {
            "kind": "cross_val",
            "name": model_name,
            "model_kwargs": dict(model_kwargs or {}),
            "image_size": size,
            "folds": folds,
            # Sample i is explained by fold model assignment[i] (result "folds"): out of sample.
            "checkpoints": [f"models/fold-{k}.pt" for k in range(len(fold_states))],
        },
    }
    result = store.add_run(
        run,
        probs,
        embeddings=None if emb is None else emb.astype(np_dtype),
        out_of_sample=True,
        model=model_name,
        parameters=parameters,
        overwrite=overwrite,
    )
    result.save_result(
        "folds",
        pd.DataFrame({"fold": assignment.astype(np.int16)}),
        parameters={"folds": folds, "random_state": int(random_state)},
    )
    if fold_states:
        run_model.save_fold_models(result, fold_states)
    logger.info(
        "cross-validated %s: held-out accuracy %.3f (folds %s) in %.1f s",
        model_name,
        accuracy,
        fold_accuracy,
        parameters["seconds"],
    )
    return result


def _split(codes: np.ndarray, folds: int, random_state: int, classes: list[str]) -> np.ndarray:
    """Fold number of every sample (stratified by label; plain k-fold if a class is too rare)."""
    import warnings

    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(codes, minlength=len(classes))
    rare = [classes[i] for i in np.flatnonzero((counts > 0) & (counts < folds))]
    assignment = np.empty(len(codes), dtype=np.int64)
    if rare:
        warnings.warn(
            f"classes {', '.join(map(repr, rare[:5]))} have fewer than {folds} samples, so some "
            "folds lack them; their held-out predictions are unreliable (use fewer folds or add "
            "samples)",
            stacklevel=3,
        )
    if len(rare) == int((counts > 0).sum()):
        splitter: Any = KFold(n_splits=folds, shuffle=True, random_state=random_state)
        splits = splitter.split(codes)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the rare-class warning, given above
            splits = list(splitter.split(np.zeros(len(codes)), codes))
    for fold, (_, held_out) in enumerate(splits):
        assignment[held_out] = fold
    return assignment


class _FoldJob(NamedTuple):
    """One model to train: fold ``fold`` (``fold == folds``: the all-samples embedding model)."""

    fold: int
    train: np.ndarray
    asked: np.ndarray
    embed: bool
    model_seed: int
    fit_seed: int


def _fold_jobs(
    folds: int, assignment: np.ndarray, labelled: np.ndarray, embeddings: str, random_state: int
) -> list[_FoldJob]:
    """The models to train, their training samples and the samples each predicts."""
    n = len(assignment)
    unlabelled = np.flatnonzero(~labelled)
    jobs = []
    for fold in range(folds):
        held_out = np.flatnonzero(assignment == fold)
        train = np.flatnonzero((assignment != fold) & labelled)
        want = embeddings == "first_fold" and fold == 0
        asked = np.arange(n) if want else np.concatenate([held_out, unlabelled])
        jobs.append(
            _FoldJob(fold, train, asked, want, random_state + fold, random_state * 1000 + fold)
        )
    if embeddings == "full":
        jobs.append(
            _FoldJob(
                folds,
                np.flatnonzero(labelled),
                np.arange(n),
                True,
                random_state + folds,
                random_state * 1000 + folds,
            )
        )
    return jobs


def _run_fold(
    trainer: _Trainer, job: _FoldJob, spec: dict[str, Any], folds: int, bar: Any = None
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None]:
    """Train one job's model and predict its samples: ``(probs, embeddings, portable state)``."""
    if bar is not None:
        bar.set_description(
            "embedding model (all samples)" if job.fold == folds else f"fold {job.fold + 1}/{folds}"
        )
    model = _create(
        spec["model_name"],
        spec["pretrained"],
        spec["num_classes"],
        spec["model_kwargs"],
        seed=job.model_seed,
    )
    trainer.fit(model, job.train, seed=job.fit_seed)
    state = run_model.portable_state(model) if spec["save_model"] and job.fold < folds else None
    fold_probs, fold_emb = trainer.predict(model, job.asked, spec["num_classes"], embed=job.embed)
    return fold_probs, fold_emb, state


def _create(
    model_name: str,
    pretrained: bool,
    num_classes: int,
    model_kwargs: dict[str, Any] | None,
    seed: int,
) -> torch.nn.Module:
    import timm
    import torch

    torch.manual_seed(seed)
    try:
        return timm.create_model(
            model_name, pretrained=pretrained, num_classes=num_classes, **(model_kwargs or {})
        )
    except RuntimeError as error:
        if "Unknown model" in str(error):
            raise ErrorAnalysisError(
                f"timm has no model named {model_name!r}; see timm.list_models() for the names"
            ) from error
        raise


def _normalisation(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's own mean and std (timm's data config), shaped for NCHW 0–255 input."""
    import torch
    from timm.data import resolve_model_data_config

    config = resolve_model_data_config(model)
    mean = torch.tensor(config["mean"], dtype=torch.float32).view(1, -1, 1, 1) * 255.0
    std = torch.tensor(config["std"], dtype=torch.float32).view(1, -1, 1, 1) * 255.0
    return mean, std


def _adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW, fused where this torch supports it for the device (6× cheaper steps on CPUs)."""
    import torch

    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)


def _one_cycle(total: int, warmup: float) -> Any:
    """Learning-rate factor per step: linear warm-up, then cosine decay to zero (one cycle)."""
    warm = max(1, round(warmup * total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warm + 1) / (total - warm + 1))))

    return factor


class _Trainer:
    """Trains and evaluates models on an in-memory uint8 image tensor."""

    def __init__(
        self,
        images: torch.Tensor,
        codes: torch.Tensor,
        mean: torch.Tensor,
        std: torch.Tensor,
        device: torch.device,
        channels_last: bool,
        batch_size: int,
        epochs: int,
        lr: float,
        weight_decay: float,
        label_smoothing: float,
        bar: Any,
    ) -> None:
        import torch

        self.images = images
        self.codes = codes
        self.device = device
        self.mean = mean.to(device)
        self.std = std.to(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.channels_last = channels_last
        self.batch_size = batch_size
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.bar = bar

    def settings(self) -> dict[str, Any]:
        """Everything but the images and the bar, as plain arrays and numbers: what another
        process (a local worker, a Ray task) needs to rebuild this trainer."""
        return {
            "codes": self.codes.numpy(),
            "mean": self.mean.cpu().numpy(),
            "std": self.std.cpu().numpy(),
            "channels_last": self.channels_last,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def from_settings(
        cls, images: torch.Tensor, settings: dict[str, Any], device: torch.device, bar: Any = None
    ) -> _Trainer:
        """The trainer :meth:`settings` describes, over ``images``, in another process."""
        import torch

        return cls(
            images=images,
            codes=torch.from_numpy(np.asarray(settings["codes"], dtype=np.int64)),
            mean=torch.as_tensor(settings["mean"]),
            std=torch.as_tensor(settings["std"]),
            device=device,
            channels_last=settings["channels_last"],
            batch_size=settings["batch_size"],
            epochs=settings["epochs"],
            lr=settings["lr"],
            weight_decay=settings["weight_decay"],
            label_smoothing=settings["label_smoothing"],
            bar=bar,
        )

    def _prepare(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True).float()
        return ((batch - self.mean) / self.std).contiguous(memory_format=self.memory_format)

    def _augment(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random horizontal flip and a random shift of up to 1/8 of the size (reflect padding)."""
        import torch
        import torch.nn.functional as F

        n, _, height, width = batch.shape
        flip = torch.rand(n, generator=generator) < 0.5
        batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)
        pad = max(1, min(height, width) // 8)
        padded = F.pad(batch, (pad, pad, pad, pad), mode="reflect")
        shifts = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).tolist()
        return torch.stack(
            [padded[i, :, dy : dy + height, dx : dx + width] for i, (dy, dx) in enumerate(shifts)]
        )

    def fit(self, model: torch.nn.Module, indices: np.ndarray, seed: int) -> None:
        import torch
        import torch.nn.functional as F

        model.to(self.device, memory_format=self.memory_format).train()
        generator = torch.Generator().manual_seed(seed)
        n = len(indices)
        batch_size = min(self.batch_size, n)
        # Drop a last batch smaller than half a batch (BatchNorm dislikes tiny batches).
        per_epoch = max(1, n // batch_size + (1 if n % batch_size >= batch_size // 2 else 0))
        optimizer = _adamw(model, self.lr, self.weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, _one_cycle(per_epoch * self.epochs, warmup=0.25)
        )
        index = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        for _ in range(self.epochs):
            order = index[torch.randperm(n, generator=generator)]
            for step in range(per_epoch):
                chosen = order[step * batch_size : (step + 1) * batch_size]
                batch = self._prepare(self._augment(self.images[chosen], generator))
                target = self.codes[chosen].to(self.device)
                loss = F.cross_entropy(model(batch), target, label_smoothing=self.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
            if self.bar is not None:
                self.bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
                self.bar.update(1)
        model.eval()

    def predict(
        self, model: torch.nn.Module, indices: np.ndarray, num_classes: int, embed: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        from erroranalysis.ingest.predict import _Engine

        engine = _Engine(
            model,
            num_classes,
            self.device,
            "fp32",
            self.channels_last,
            want_embeddings=embed,
        )
        probs: list[np.ndarray] = []
        emb: list[np.ndarray] = []
        try:
            step = max(256, self.batch_size)
            for start in range(0, len(indices), step):
                chosen = np.asarray(indices[start : start + step])
                batch_probs, batch_emb = engine(self._prepare(self.images[chosen]))
                probs.append(batch_probs.numpy())
                if batch_emb is not None:
                    emb.append(batch_emb.numpy())
        finally:
            engine.close()
        return np.concatenate(probs), (np.concatenate(emb) if emb else None)
