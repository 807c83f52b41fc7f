"""Batch inference of a timm (or any torch) classifier over a store's images.

:func:`predict` computes softmax probabilities and pre-logits embeddings for every sample and
records them as a run. It uses timm's own preprocessing for the model, ``torch.inference_mode``,
channels-last memory format, DataLoader workers and the GPU when there is one. Results are written
in chunks under ``<store>/.work/predict-<run>/``, so an interrupted run resumes where it stopped.

>>> import erroranalysis as ea
>>> run = ea.predict(store, "resnet18", run="resnet18")          # doctest: +SKIP
>>> run = ea.predict(store, my_model, image_size=64)             # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from erroranalysis.errors import ErrorAnalysisError, ShapeMismatchError, StoreExistsError
from erroranalysis.ingest import _torch_data, run_model

if TYPE_CHECKING:
    import torch

    from erroranalysis.store import Run, Store

__all__ = ["predict"]

logger = logging.getLogger(__name__)

#: Test hook: called with the chunk number after each chunk file is written (None: nothing).
_after_chunk: Callable[[int], None] | None = None

_CHUNK_FORMAT = 1


def predict(
    store: Store,
    model: str | torch.nn.Module,
    run: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    image_size: int | None = None,
    channels_last: bool = True,
    chunk_size: int = 4096,
    resume: bool = True,
    out_of_sample: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    *,
    pretrained: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    transform: Callable[[Any], Any] | None = None,
    precision: str = "auto",
    dtype: str = "float32",
    embeddings: bool = True,
    engine: str = "local",
    address: str | None = None,
) -> Run:
    """Run a classifier over every image of the store and record its predictions as a run.

    Parameters
    ----------
    store : Store
        The store; its samples need a ``path`` column.
    model : str or torch.nn.Module
        A timm model name (created with ``timm.create_model(name, pretrained=pretrained,
        num_classes=store.num_classes, **model_kwargs)``; randomly initialised weights are
        seeded, so the same name gives the same model) or a module whose output is
        ``(batch, store.num_classes)`` logits. The module is put in eval mode (its training flag
        is restored afterwards) and, with ``channels_last``, converted to channels-last in place.
    run : str, optional
        Run name; default: the model name (or the module's class name, lower-cased).
    batch_size : int
        Images per forward pass.
    num_workers : int, optional
        DataLoader worker processes decoding images; default one per core beyond two (0 on
        machines with two cores or fewer, where a worker would compete with the model).
    device : str or torch.device, optional
        Default: CUDA when available, else the CPU.
    image_size : int, optional
        Input size (pixels, square); default: the model's own (timm's data config).
    channels_last : bool
        Run convolutions in channels-last memory format (1.3–2.7× faster on CPUs with oneDNN).
    chunk_size : int
        Samples per chunk file; finished chunks survive an interruption.
    resume : bool
        Reuse chunks left by an interrupted call with the same model, weights, preprocessing and
        samples (others are discarded); ``False`` starts afresh.
    out_of_sample : bool
        Whether the model never trained on these samples (recorded in the run; label-issue
        detection warns on in-sample predictions).
    progress : bool
        Show a tqdm progress bar.
    overwrite : bool
        Replace an existing run of the same name.
    pretrained : bool
        With a model name: load pretrained weights (needs them to be downloadable or cached).
    model_kwargs : dict, optional
        Extra keyword arguments for ``timm.create_model`` (for example ``checkpoint_path``).
    transform : callable, optional
        Preprocessing of one RGB ``PIL.Image`` into a ``(3, H, W)`` float tensor; default: timm's
        eval transform for the model (``resolve_model_data_config`` + ``create_transform``).
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``"auto"`` is fp32 on the CPU and bf16 (fp16 on GPUs without bf16) autocast on CUDA.
        ``"bf16"`` on the CPU is refused unless the CPU has AMX or AVX512-BF16.
    dtype : {"float32", "float16"}
        Storage type of the probabilities and embeddings (float16 halves the disk).
    embeddings : bool
        Record embeddings: for timm models the pre-logits features
        (``forward_head(forward_features(x), pre_logits=True)``); for other modules the input of
        their last ``nn.Linear`` layer with ``num_classes`` outputs (captured by a forward hook),
        or none when there is no such layer.
    engine : {"local", "ray"}
        Where the inference runs: this process, or a Ray cluster (the optional extra
        ``pip install "erroranalysis[ray]"``; see :mod:`erroranalysis.ingest.ray_engine`). Both
        give the same run; with ``"ray"``, ``num_workers`` is the number of model replicas,
        ``device`` is None/"cpu"/"cuda" for the workers and ``chunk_size`` the samples per
        resumable Parquet shard.
    address : str, optional
        With ``engine="ray"``: the cluster, ``"host:6379"`` or ``"ray://host:10001"`` (default:
        ``RAY_ADDRESS``, a cluster started here with ``ray start --head``, or a new local Ray).

    Returns
    -------
    Run
        The new run.

    Raises
    ------
    StoreExistsError
        If the run exists and ``overwrite`` is False.
    ShapeMismatchError
        If the model does not output ``store.num_classes`` logits.
    BadImageError
        Naming a sample whose image cannot be read.
    EngineError
        With ``engine="ray"``: Ray is not installed, or the cluster cannot be reached.
    """

    if engine not in ("local", "ray"):
        raise ErrorAnalysisError(f"engine must be 'local' or 'ray'; got {engine!r}")
    if engine == "ray":
        from erroranalysis.ingest import ray_engine

        return ray_engine.predict(
            store, model, run, address=address, batch_size=batch_size, num_workers=num_workers,
            device=device, image_size=image_size, channels_last=channels_last,
            chunk_size=chunk_size, resume=resume, out_of_sample=out_of_sample, progress=progress,
            overwrite=overwrite, pretrained=pretrained, model_kwargs=model_kwargs,
            transform=transform, precision=precision, dtype=dtype, embeddings=embeddings,
        )  # fmt: skip
    if address is not None:
        raise ErrorAnalysisError("address only applies to engine='ray'")
    if dtype not in ("float32", "float16"):
        raise ErrorAnalysisError(f"dtype must be 'float32' or 'float16'; got {dtype!r}")
    if batch_size < 1 or chunk_size < 1:
        raise ErrorAnalysisError(
            f"batch_size and chunk_size must be positive; got {batch_size} and {chunk_size}"
        )
    torch_device = _torch_data.resolve_device(device)
    resolved_precision = _torch_data.resolve_precision(precision, torch_device)
    module, model_name = _make_model(store, model, pretrained, model_kwargs)
    run = _run_name(run, model_name)
    if run in store.runs() and not overwrite:
        raise StoreExistsError(
            f"run {run!r} already exists in {store.path}; pass overwrite=True to replace it or "
            "run=... to choose another name"
        )
    data_config: dict[str, Any] = {}
    if transform is None:
        transform, data_config = _timm_transform(module, image_size)
    paths = _torch_data.image_paths(store)
    sample_ids = [str(sample) for sample in store.sample_ids]
    n = len(paths)
    workers = _torch_data.default_num_workers() if num_workers is None else int(num_workers)

    was_training = module.training
    engine = _Engine(
        module,
        store.num_classes,
        torch_device,
        resolved_precision,
        channels_last,
        want_embeddings=embeddings,
    )
    try:
        fingerprint = _fingerprint(
            model_name, module, sample_ids, transform, resolved_precision, channels_last,
            chunk_size, dtype, engine.embedding_source,
        )  # fmt: skip
        folder = _torch_data.work_dir(store, f"predict-{run}")
        done = _prepare_pieces(folder, fingerprint, resume, "chunk-*.npz", "chunks", stacklevel=3)
        n_chunks = (n + chunk_size - 1) // chunk_size
        todo = [c for c in range(n_chunks) if c not in done]
        started = time.perf_counter()
        computed = 0
        if todo:
            remaining = sum(_chunk_len(c, chunk_size, n) for c in todo)
            computed = _compute_chunks(
                engine, paths, sample_ids, transform, todo, chunk_size, n, folder, batch_size,
                workers, torch_device, dtype, progress, already_done=n - remaining,
            )  # fmt: skip
        seconds = time.perf_counter() - started
        probs, emb = _assemble(folder, n_chunks)
    finally:
        engine.close()
        module.train(was_training)

    parameters = {
        "engine": "local",
        "batch_size": int(batch_size),
        "device": torch_device.type,
        "precision": resolved_precision,
        "channels_last": bool(channels_last),
        "pretrained": bool(pretrained) if isinstance(model, str) else None,
        "data_config": _jsonable(data_config),
        "transform": None if data_config else repr(transform),
        "embeddings": engine.embedding_source,
        "num_workers": workers,
        "resumed_samples": int(n - computed),
        "seconds": round(seconds, 3),
        "images_per_second": round(computed / seconds, 2) if computed and seconds > 0 else None,
        "seconds_per_image": round(seconds / computed, 6) if computed else None,
    }
    # What made the run, so Grad-CAM can load it again (erroranalysis.ingest.run_model).
    if isinstance(model, str):
        parameters["model_source"] = run_model.describe_timm(
            model, pretrained, model_kwargs, parameters["data_config"]
        )
    else:
        parameters["model_source"] = {"kind": "object", "class": type(model).__name__}
    result = store.add_run(
        run,
        probs,
        embeddings=emb,
        out_of_sample=out_of_sample,
        model=model_name,
        parameters=parameters,
        overwrite=overwrite,
    )
    if not isinstance(model, str):
        run_model.register_model(store, run, module, None if data_config else transform)
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # only when empty
    return result


# -- the model ----------------------------------------------------------------------------------


def _make_model(
    store: Store,
    model: str | torch.nn.Module,
    pretrained: bool,
    model_kwargs: dict[str, Any] | None,
) -> tuple[torch.nn.Module, str]:
    import torch

    if isinstance(model, str):
        import timm

        kwargs = dict(model_kwargs or {})
        kwargs.setdefault("num_classes", store.num_classes)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                module = timm.create_model(model, pretrained=pretrained, **kwargs)
        except RuntimeError as error:
            if "Unknown model" in str(error):
                raise ErrorAnalysisError(
                    f"timm has no model named {model!r}; see timm.list_models() for the names"
                ) from error
            raise
        return module, model
    if not isinstance(model, torch.nn.Module):
        raise ErrorAnalysisError(
            f"model must be a timm model name or a torch.nn.Module; got {type(model).__name__}"
        )
    if model_kwargs:
        raise ErrorAnalysisError("model_kwargs only applies to a timm model name")
    return model, type(model).__name__


def _run_name(run: str | None, model_name: str) -> str:
    if run is not None:
        return run
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name.lower()).strip("-._") or "model"
    return name[:128]


def _timm_transform(
    module: torch.nn.Module, image_size: int | None
) -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """timm's eval transform for the model (its own mean, std, crop, interpolation)."""
    from timm.data import create_transform, resolve_model_data_config

    config = dict(resolve_model_data_config(module))
    if image_size is not None:
        config["input_size"] = (3, int(image_size), int(image_size))
    transform = create_transform(**config, is_training=False)
    return transform, config


class _Engine:
    """The inference path: eval mode, channels-last, autocast, softmax and embeddings.

    ``_Engine(model, ...)(batch)`` returns ``(probs, embeddings)`` as float32 CPU tensors; the
    benchmark calls it on the same tensors as its plain baseline.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        num_classes: int,
        device: torch.device,
        precision: str,
        channels_last: bool,
        want_embeddings: bool = True,
    ) -> None:
        import torch

        self.module = module.eval().to(device)
        if channels_last:
            self.module.to(memory_format=torch.channels_last)
        self.num_classes = num_classes
        self.device = device
        self.channels_last = channels_last
        self.autocast = _torch_data.autocast_dtype(precision)
        self._hook = None
        self._captured: torch.Tensor | None = None
        self.timm_head = hasattr(module, "forward_features") and hasattr(module, "forward_head")
        self.embedding_source: str | None = None
        if not want_embeddings:
            return
        if self.timm_head:
            self.embedding_source = "pre_logits"
            return
        last = None
        for name, layer in module.named_modules():
            if isinstance(layer, torch.nn.Linear) and layer.out_features == num_classes:
                last = (name, layer)
        if last is not None:
            self._hook = last[1].register_forward_hook(self._capture)
            self.embedding_source = f"input of {last[0]}"

    def _capture(self, _layer: Any, inputs: tuple[Any, ...], _output: Any) -> None:
        self._captured = inputs[0]

    def close(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def __call__(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        batch = batch.to(self.device, non_blocking=True)
        if self.channels_last and batch.ndim == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        autocast = (
            torch.autocast(self.device.type, dtype=self.autocast)
            if self.autocast is not None
            else contextlib.nullcontext()
        )
        embeddings = None
        with torch.inference_mode(), autocast:
            if self.timm_head:
                features = self.module.forward_features(batch)
                if self.embedding_source is not None:
                    embeddings = self.module.forward_head(features, pre_logits=True)
                logits = self.module.forward_head(features)
            else:
                self._captured = None
                logits = self.module(batch)
                embeddings = self._captured
            if logits.ndim != 2 or logits.shape[1] != self.num_classes:
                raise ShapeMismatchError(
                    f"the model outputs shape {tuple(logits.shape)}, expected (batch, "
                    f"{self.num_classes}) logits for the store's {self.num_classes} classes; give "
                    "it a classifier head with num_classes outputs"
                )
            probs = torch.softmax(logits.float(), dim=1)
            if embeddings is not None:
                embeddings = embeddings.float().flatten(1)
        probs = probs.cpu()
        return probs, (None if embeddings is None else embeddings.cpu())


# -- chunks ---------------------------------------------------------------------------------------


def _fingerprint(
    model_name: str,
    module: torch.nn.Module,
    sample_ids: list[str],
    transform: Any,
    precision: str,
    channels_last: bool,
    chunk_size: int,
    dtype: str,
    embedding_source: str | None,
) -> str:
    ids = hashlib.blake2b("\x00".join(sample_ids).encode(), digest_size=16).hexdigest()
    description = {
        "format": _CHUNK_FORMAT,
        "model": model_name,
        "state": _torch_data.state_fingerprint(module),
        "samples": ids,
        "transform": repr(transform),
        "precision": precision,
        "channels_last": channels_last,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "embeddings": embedding_source,
    }
    return hashlib.blake2b(json.dumps(description, sort_keys=True).encode()).hexdigest()


def _chunk_path(folder: Path, chunk: int) -> Path:
    return folder / f"chunk-{chunk:05d}.npz"


def _chunk_len(chunk: int, chunk_size: int, n: int) -> int:
    return min(n, (chunk + 1) * chunk_size) - chunk * chunk_size


def _prepare_pieces(
    folder: Path, fingerprint: str, resume: bool, pattern: str, kind: str, stacklevel: int
) -> set[int]:
    """Keep the finished pieces of an identical interrupted call; otherwise start an empty folder.

    Shared by the local engine (``chunk-*.npz``) and the Ray engine (``shard-*.parquet``): a
    piece's number follows the dash in its file name; ``stacklevel`` points the warning at the
    user's call.
    """
    meta = folder / "meta.json"
    if folder.exists():
        previous = None
        with contextlib.suppress(OSError, ValueError):
            previous = json.loads(meta.read_text()).get("fingerprint")
        if resume and previous == fingerprint:
            done = set()
            for path in folder.glob(pattern):
                with contextlib.suppress(ValueError):
                    done.add(int(path.stem.split("-")[1]))
            if done:
                logger.info("resuming: %d finished %s in %s", len(done), kind, folder)
            return done
        if resume and previous is not None:
            warnings.warn(
                f"discarding the unfinished {kind} in {folder}: they were computed with another "
                "model, weights, preprocessing or set of samples",
                stacklevel=stacklevel,
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint}))
    os.replace(tmp, meta)
    return set()


def _write_chunk(folder: Path, chunk: int, probs: np.ndarray, emb: np.ndarray | None) -> None:
    target = _chunk_path(folder, chunk)
    tmp = target.with_name(target.name + ".tmp")
    arrays = {"probs": probs} if emb is None else {"probs": probs, "embeddings": emb}
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _compute_chunks(
    engine: _Engine,
    paths: list[str],
    sample_ids: list[str],
    transform: Callable[[Any], Any],
    todo: list[int],
    chunk_size: int,
    n: int,
    folder: Path,
    batch_size: int,
    workers: int,
    device: torch.device,
    dtype: str,
    progress: bool,
    already_done: int,
) -> int:
    """Predict the samples of the unfinished chunks, writing each chunk as soon as it is whole."""
    import torch.utils.data

    positions = np.concatenate(
        [np.arange(c * chunk_size, c * chunk_size + _chunk_len(c, chunk_size, n)) for c in todo]
    )
    dataset = _torch_data.StoreImageDataset(paths, sample_ids, transform, positions.tolist())
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        pin_memory=device.type == "cuda",
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, initial=already_done, desc="predicting", unit="img")
    np_dtype = np.float16 if dtype == "float16" else np.float32
    pending_probs: list[np.ndarray] = []
    pending_emb: list[np.ndarray] = []
    pending = 0
    queue = iter(todo)
    current = next(queue)
    computed = 0
    try:
        for batch, _index in loader:
            probs, emb = engine(batch)
            pending_probs.append(probs.numpy())
            if emb is not None:
                pending_emb.append(emb.numpy())
            pending += len(probs)
            computed += len(probs)
            while current is not None and pending >= _chunk_len(current, chunk_size, n):
                need = _chunk_len(current, chunk_size, n)
                all_probs = np.concatenate(pending_probs)
                all_emb = np.concatenate(pending_emb) if pending_emb else None
                chunk_probs = all_probs[:need]
                if np_dtype == np.float16:  # renormalise after rounding
                    chunk_probs = (chunk_probs / chunk_probs.sum(1, keepdims=True)).astype(np_dtype)
                _write_chunk(
                    folder,
                    current,
                    chunk_probs,
                    None if all_emb is None else all_emb[:need].astype(np_dtype),
                )
                pending_probs = [all_probs[need:]]
                pending_emb = [] if all_emb is None else [all_emb[need:]]
                pending -= need
                if _after_chunk is not None:
                    _after_chunk(current)
                current = next(queue, None)
            if bar is not None:
                bar.update(len(probs))
    finally:
        if bar is not None:
            bar.close()
    return computed


def _assemble(folder: Path, n_chunks: int) -> tuple[np.ndarray, np.ndarray | None]:
    probs: list[np.ndarray] = []
    emb: list[np.ndarray] = []
    for chunk in range(n_chunks):
        with np.load(_chunk_path(folder, chunk)) as data:
            probs.append(data["probs"])
            if "embeddings" in data.files:
                emb.append(data["embeddings"])
    return np.concatenate(probs), (np.concatenate(emb) if len(emb) == n_chunks else None)


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
