"""The Ray engine: :func:`~erroranalysis.ingest.predict.predict` and
:func:`~erroranalysis.ingest.cross_val.cross_val_predict` on a Ray cluster, into the same store.

``engine="ray"`` changes where the heavy step runs, not what it produces: the run has the same
probabilities and embeddings as the local engine (same model, same preprocessing, same
``_Engine`` forward pass), is published atomically in the store on the driver, and is
memory-mapped as usual.

What moves where
----------------
- The driver (the process calling ``ea.predict``) sends the model (pickled once into Ray's object
  store), the preprocessing and the table ``(position, sample_id, path)``; images are **not**
  sent: each worker opens them at the store's paths, so those paths must be readable from every
  worker node (shared file system or the same mount point).
- Ray Data streams that table through a pool of actors (``map_batches`` with a callable class),
  each holding one copy of the model: on a GPU when the worker has one (bf16/fp16 autocast, as
  locally), otherwise channels-last fp32 on the CPU. Each actor decodes its batch with threads
  and runs the model.
- Probabilities and embeddings (``N × (K + D)`` floats) stream back to the driver, which writes
  them as Parquet shards (``sample_id, position, probs, embedding``) into the run's staging folder
  ``<store>/.work/ray-predict-<run>/shard-<i>.parquet``; shard ``i`` always holds samples
  ``i·S … (i+1)·S − 1`` (``S = chunk_size``), so a rerun after a killed driver or a lost worker
  skips the finished shards. The run is published only when every sample has exactly one row.
- Cross-validation: the driver reads the images once into one uint8 array, puts it into the
  object store, and runs each fold (train on the other folds, predict the held-out one) as a
  separate Ray task; finished folds are kept in ``<store>/.work/ray-cv-<run>/`` for a rerun.

Every node must be able to import this package (the actors and fold tasks reach their code by
import): before a run, one zero-CPU task per node checks it, and a node without it gives a
one-line :class:`EngineError` with the install line. Replicas reserve their CPUs on one node, so
the default ``cpus_per_worker`` is at most the largest node's CPUs.

Ray is an optional extra; without it ``engine="ray"`` raises :class:`EngineError` whose message
ends with the line ``pip install "erroranalysis[ray]"``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from erroranalysis.errors import (
    BadImageError,
    EngineError,
    ErrorAnalysisError,
    StoreExistsError,
    describe,
)
from erroranalysis.ingest import _torch_data, run_model

if TYPE_CHECKING:
    import torch

    from erroranalysis.store import Run, Store

__all__ = [
    "RAY_INSTALL",
    "check_nodes",
    "cluster_description",
    "connect",
    "predict",
    "require_ray",
]

logger = logging.getLogger(__name__)

#: The line that tells how to get the Ray engine.
RAY_INSTALL = 'pip install "erroranalysis[ray]"'

#: Test hook: called with the shard number after each shard file is written (None: nothing).
_after_shard: Callable[[int], None] | None = None

_SHARD_FORMAT = 1
_connected: dict[str, Any] = {}


# -- Ray itself ---------------------------------------------------------------------------------


def require_ray() -> Any:
    """Import Ray (and Ray Data), or raise :class:`EngineError` with the install line.

    Returns
    -------
    module
        The ``ray`` module.
    """
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise EngineError(
            f"engine='ray' needs Ray, which is not installed here ({error}); install it with\n"
            f"{RAY_INSTALL}"
        ) from None
    return ray


def connect(address: str | None = None) -> Any:
    """Connect this process to a Ray cluster (once; later calls reuse the connection).

    Parameters
    ----------
    address : str, optional
        ``"host:6379"`` (the head's GCS port, from a machine of the cluster), ``"ray://host:10001"``
        (Ray Client, from outside the cluster) or ``"auto"``. ``None``: the cluster named by the
        ``RAY_ADDRESS`` environment variable, a cluster started on this machine with
        ``ray start --head``, or else a new single-machine Ray started for this process.

    Returns
    -------
    module
        The ``ray`` module, initialised.

    Raises
    ------
    EngineError
        If Ray is not installed or the cluster cannot be reached.
    """
    ray = require_ray()
    if ray.is_initialized():
        if address is None or _connected.get("address") == address:
            return ray
        ray.shutdown()
        _connected.clear()
    _probe(address)
    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        ray.init(
            address=address,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EngineError(
            f"could not reach a Ray cluster at {address or 'the default address'!r}: {first}; "
            "start one with `ray start --head` and pass its address (host:6379 from a cluster "
            "machine, ray://host:10001 from elsewhere)"
        ) from None
    _connected["address"] = address
    return ray


def _probe(address: str | None, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when nothing listens at ``host:port`` (Ray itself retries ~1 min)."""
    import socket

    if address is None or address == "auto" or address.startswith("local"):
        return
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise EngineError(
            f"Ray address {address!r} is not host:port or ray://host:port (e.g. 10.0.0.5:6379, "
            "ray://head:10001)"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise EngineError(
            f"no Ray cluster answers at {address!r} ({error.strerror or error}); start one with "
            "`ray start --head` on the head node, or check the address (host:6379 from a "
            "cluster machine, ray://host:10001 from elsewhere)"
        ) from None


def cluster_description(ray: Any, address: str | None) -> dict[str, Any]:
    """What the run was computed on: Ray's version, the nodes and their total resources."""
    resources = ray.cluster_resources()
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    return {
        "ray_version": ray.__version__,
        "address": address,
        "nodes": len(nodes),
        # An actor or task needs its CPUs on one node: the per-node counts bound what fits.
        "node_cpus": sorted(
            (float(node.get("Resources", {}).get("CPU", 0.0)) for node in nodes), reverse=True
        ),
        "CPU": float(resources.get("CPU", 0.0)),
        "GPU": float(resources.get("GPU", 0.0)),
        "memory_gib": round(float(resources.get("memory", 0.0)) / 2**30, 2),
        "object_store_gib": round(float(resources.get("object_store_memory", 0.0)) / 2**30, 2),
    }


def _package_version() -> str:
    """Run on a node: the version of ``erroranalysis`` it imports (this module's import)."""
    import erroranalysis

    return str(erroranalysis.__version__)


def check_nodes(ray: Any, timeout: float = 120.0) -> dict[str, str]:
    """Check that every alive node imports ``erroranalysis``; one-line error when one cannot.

    One zero-CPU task is pinned to each node (the same way the model actors and fold tasks
    reach this package: by import, not by value). Checked once per set of nodes and connection.

    Returns
    -------
    dict
        Node id → the package version it imports.

    Raises
    ------
    EngineError
        If a node cannot import the package.
    """
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = sorted(node["NodeID"] for node in ray.nodes() if node.get("Alive"))
    checked = _connected.setdefault("checked", {})
    if all(node in checked for node in nodes):
        return {node: checked[node] for node in nodes}
    probe = ray.remote(num_cpus=0, max_retries=0)(_package_version)
    refs = {
        probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
        ).remote(): node
        for node in nodes
        if node not in checked
    }
    deadline = time.monotonic() + timeout
    gone: set[str] = set()
    for ref, node in refs.items():
        try:
            checked[node] = ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
        except ray.exceptions.GetTimeoutError:
            logger.warning("the Ray nodes did not answer the package check within %.0f s", timeout)
            return {}
        except Exception as error:
            if type(error).__name__ == "TaskUnschedulableError":
                # the node died between ray.nodes() and the probe (a lost worker): nothing to
                # check there, the run's own retries deal with it
                gone.add(node)
                continue
            text = f"{error!r} {error}"
            if "erroranalysis" in text and ("ModuleNotFoundError" in text or "No module" in text):
                raise EngineError(
                    "the Ray cluster's nodes cannot import erroranalysis (No module named "
                    f"'erroranalysis' on a worker node); install it on every node: {RAY_INSTALL}"
                ) from None
            lines = str(error).strip().splitlines()
            raise EngineError(
                f"the Ray package check failed on a node: {type(error).__name__}: "
                f"{lines[-1] if lines else ''}"
            ) from None
    nodes = [node for node in nodes if node not in gone]
    return {node: checked[node] for node in nodes}


def _plain_error(error: BaseException) -> ErrorAnalysisError | None:
    """The package's own error inside a Ray task failure (Ray wraps it), as a clean instance."""
    seen: set[int] = set()
    queue: list[Any] = [error]
    while queue:
        item = queue.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        cause = getattr(item, "cause", None)  # RayTaskError keeps the original exception here
        if isinstance(cause, ErrorAnalysisError):
            return type(cause)(str(cause))
        if isinstance(item, ErrorAnalysisError):
            kind = next(
                k
                for k in type(item).__mro__
                if issubclass(k, ErrorAnalysisError) and k.__module__.startswith("erroranalysis")
            )
            return kind(str(item).strip().splitlines()[-1])
        queue.extend([cause, item.__cause__, item.__context__])
    return None


# -- predict ------------------------------------------------------------------------------------


class _Predictor:
    """A Ray Data actor holding one model: decodes a batch of paths and predicts it."""

    def __init__(
        self,
        model: Any,
        num_classes: int,
        transform: Any,
        precision: str,
        channels_last: bool,
        embeddings: bool,
        use_gpu: bool,
        threads: int,
    ) -> None:
        import ray
        import torch

        from erroranalysis.ingest.predict import _Engine

        if isinstance(model, ray.ObjectRef):
            model = ray.get(model)
        threads = max(1, int(threads))
        torch.set_num_threads(threads)
        device = torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
        self.device = device.type
        self.engine = _Engine(
            model,
            num_classes,
            device,
            _torch_data.resolve_precision(precision, device),
            channels_last,
            want_embeddings=embeddings,
        )
        self.transform = transform
        self.pool = None
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            self.pool = ThreadPoolExecutor(max_workers=threads)

    def _load(self, path: str) -> Any:
        try:
            return self.transform(_torch_data.load_rgb(path))
        except BadImageError:
            return None

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        paths = [str(path) for path in batch["path"]]
        images = list(self.pool.map(self._load, paths) if self.pool else map(self._load, paths))
        good = np.array([i for i, image in enumerate(images) if image is not None], dtype=np.int64)
        out: dict[str, np.ndarray] = {
            "position": np.asarray(batch["position"], dtype=np.int64)[good],
            "sample_id": np.asarray(batch["sample_id"], dtype=object)[good],
        }
        if len(good) == 0:  # unreadable images are left out; the driver names them
            out["probs"] = np.zeros((0, self.engine.num_classes), dtype=np.float32)
            return out
        probs, emb = self.engine(torch.stack([images[i] for i in good]))
        out["probs"] = probs.numpy()
        if emb is not None:
            out["embedding"] = emb.numpy()
        return out


def _embedding_source(module: torch.nn.Module, num_classes: int, want: bool) -> str | None:
    """What ``_Engine`` would record as the embeddings (without moving the module)."""
    import torch

    if not want:
        return None
    if hasattr(module, "forward_features") and hasattr(module, "forward_head"):
        return "pre_logits"
    last = None
    for name, layer in module.named_modules():
        if isinstance(layer, torch.nn.Linear) and layer.out_features == num_classes:
            last = name
    return None if last is None else f"input of {last}"


def _shard_path(folder: Path, shard: int) -> Path:
    return folder / f"shard-{shard:05d}.parquet"


def _write_shard(
    folder: Path, shard: int, ids: np.ndarray, positions: np.ndarray, probs: np.ndarray, emb: Any
) -> None:
    """One shard file, atomically (temporary name, fsync, rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def fixed(matrix: np.ndarray) -> pa.Array:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])

    columns = {
        "sample_id": pa.array([str(sample) for sample in ids], type=pa.string()),
        "position": pa.array(positions, type=pa.int64()),
        "probs": fixed(probs),
    }
    if emb is not None:
        columns["embedding"] = fixed(emb)
    target = _shard_path(folder, shard)
    tmp = target.with_name(target.name + ".tmp")
    pq.write_table(pa.table(columns), tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _read_shards(
    folder: Path, n_shards: int, sample_ids: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Every shard, checked: each sample exactly once, at its own position."""
    import pyarrow.parquet as pq

    ids: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    emb: list[np.ndarray] = []
    for shard in range(n_shards):
        table = pq.read_table(_shard_path(folder, shard))
        ids.append(np.asarray(table.column("sample_id").to_pylist(), dtype=object))
        positions.append(table.column("position").to_numpy())
        width = table.schema.field("probs").type.list_size
        probs.append(table.column("probs").combine_chunks().flatten().to_numpy().reshape(-1, width))
        if "embedding" in table.column_names:
            dim = table.schema.field("embedding").type.list_size
            flat = table.column("embedding").combine_chunks().flatten().to_numpy()
            emb.append(flat.reshape(-1, dim))
    all_ids = np.concatenate(ids)
    all_positions = np.concatenate(positions)
    n = len(sample_ids)
    counts = np.bincount(all_positions, minlength=n) if len(all_positions) else np.zeros(n, int)
    expected = np.asarray(sample_ids, dtype=object)
    misplaced = all_ids != expected[np.clip(all_positions, 0, n - 1)]
    if len(all_positions) != n or (counts != 1).any() or misplaced.any():
        twice = [sample_ids[i] for i in np.flatnonzero(counts > 1)]
        missing = [sample_ids[i] for i in np.flatnonzero(counts == 0)]
        raise EngineError(
            f"the Ray shards in {folder} hold {len(all_positions)} rows for {n} samples "
            f"(more than once: {describe(twice) or 'none'}; missing: {describe(missing) or 'none'}"
            f"; misplaced rows: {int(misplaced.sum())}); nothing was published; rerun with "
            "resume=False"
        )
    order = np.argsort(all_positions, kind="stable")
    out_emb = np.concatenate(emb)[order] if len(emb) == n_shards else None
    return np.concatenate(probs)[order], out_emb


def predict(
    store: Store,
    model: str | torch.nn.Module,
    run: str | None = None,
    *,
    address: str | None = None,
    batch_size: int = 64,
    num_workers: int | None = None,
    device: str | None = None,
    image_size: int | None = None,
    channels_last: bool = True,
    chunk_size: int = 4096,
    resume: bool = True,
    out_of_sample: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    pretrained: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    transform: Callable[[Any], Any] | None = None,
    precision: str = "auto",
    dtype: str = "float32",
    embeddings: bool = True,
    cpus_per_worker: float | None = None,
) -> Run:
    """:func:`erroranalysis.predict` with ``engine="ray"`` (see that function for the parameters).

    Parameters that differ
    ----------------------
    address : str, optional
        The Ray cluster (see :func:`connect`).
    num_workers : int, optional
        Model replicas (Ray actors); default one per GPU of the cluster, else one per
        ``cpus_per_worker`` CPUs.
    device : {None, "cpu", "cuda"}
        ``None``: GPUs when the cluster has them, else CPUs; ``"cuda"`` requires GPUs.
    chunk_size : int
        Samples per Parquet shard (the unit of resumption).
    cpus_per_worker : float, optional
        CPUs each actor reserves and decodes/computes with (threads); default 2 on CPU workers
        (at most the cluster's CPUs), and the cluster's CPUs per GPU (at most 8) on GPU workers.
    """
    from erroranalysis.ingest import predict as local

    require_ray()
    if dtype not in ("float32", "float16"):
        raise ErrorAnalysisError(f"dtype must be 'float32' or 'float16'; got {dtype!r}")
    if batch_size < 1 or chunk_size < 1:
        raise ErrorAnalysisError(
            f"batch_size and chunk_size must be positive; got {batch_size} and {chunk_size}"
        )
    if device not in (None, "cpu", "cuda"):
        raise ErrorAnalysisError(
            f"with engine='ray', device must be None, 'cpu' or 'cuda'; got {device!r}"
        )
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ErrorAnalysisError(
            f"precision must be one of auto, fp32, bf16, fp16; got {precision!r}"
        )
    module, model_name = local._make_model(store, model, pretrained, model_kwargs)
    run = local._run_name(run, model_name)
    if run in store.runs() and not overwrite:
        raise StoreExistsError(
            f"run {run!r} already exists in {store.path}; pass overwrite=True to replace it or "
            "run=... to choose another name"
        )
    data_config: dict[str, Any] = {}
    if transform is None:
        transform, data_config = local._timm_transform(module, image_size)
    paths = _torch_data.image_paths(store)
    sample_ids = [str(sample) for sample in store.sample_ids]
    n = len(paths)
    num_classes = store.num_classes

    ray = connect(address)
    cluster = cluster_description(ray, address)
    use_gpu = device == "cuda" or (device is None and cluster["GPU"] >= 1)
    if use_gpu and cluster["GPU"] < 1:
        raise EngineError(
            f"device='cuda' was asked for, but the Ray cluster has no GPUs ({cluster}); pass "
            "device=None or 'cpu'"
        )
    largest = max(cluster["node_cpus"], default=cluster["CPU"])
    cpus = cpus_per_worker
    if cpus is None:
        per_gpu = cluster["CPU"] / cluster["GPU"] if use_gpu else 2.0
        cpus = float(max(1.0, min(8.0 if use_gpu else 2.0, largest, per_gpu)))
    if cpus > largest:
        raise EngineError(
            f"cpus_per_worker={cpus:g} does not fit on any node of the Ray cluster (the largest "
            f"has {largest:g} CPUs; nodes: {cluster['node_cpus']}); pass at most {largest:g}"
        )
    workers = num_workers
    if workers is None:
        fits = sum(int(node // cpus) for node in cluster["node_cpus"]) or 1
        workers = int(cluster["GPU"]) if use_gpu else fits
    workers = max(1, int(workers))
    check_nodes(ray)

    was_training = module.training
    module.eval()
    embedding_source = _embedding_source(module, num_classes, embeddings)
    fingerprint = hashlib.blake2b(
        json.dumps(
            {
                "engine": "ray",
                "format": _SHARD_FORMAT,
                "local": local._fingerprint(
                    model_name,
                    module,
                    sample_ids,
                    transform,
                    precision,
                    channels_last,
                    chunk_size,
                    dtype,
                    embedding_source,
                ),
                "gpu": use_gpu,
            }
        ).encode()
    ).hexdigest()
    folder = _torch_data.work_dir(store, f"ray-predict-{run}")
    from erroranalysis.ingest.predict import _prepare_pieces

    done = _prepare_pieces(folder, fingerprint, resume, "shard-*.parquet", "shards", stacklevel=4)
    n_shards = (n + chunk_size - 1) // chunk_size
    todo = [s for s in range(n_shards) if s not in done]
    started = time.perf_counter()
    computed = 0
    try:
        if todo:
            remaining = sum(min(n, (s + 1) * chunk_size) - s * chunk_size for s in todo)
            computed = _run_shards(
                ray, module, transform, paths, sample_ids, todo, chunk_size, n, folder,
                num_classes=num_classes, batch_size=batch_size, workers=workers, cpus=cpus,
                use_gpu=use_gpu, precision=precision, channels_last=channels_last,
                embeddings=embeddings, progress=progress, already_done=n - remaining,
            )  # fmt: skip
    finally:
        module.train(was_training)
    seconds = time.perf_counter() - started
    probs, emb = _read_shards(folder, n_shards, sample_ids)
    np_dtype = np.float16 if dtype == "float16" else np.float32
    if np_dtype == np.float16:  # renormalise after rounding, as the local engine does
        probs = (probs / probs.sum(1, keepdims=True)).astype(np_dtype)
    gpus = 1.0 if use_gpu else 0.0
    per_image = seconds / computed if computed else None
    parameters = {
        "engine": "ray",
        "batch_size": int(batch_size),
        "device": "cuda" if use_gpu else "cpu",
        "precision": precision if use_gpu else ("fp32" if precision == "auto" else precision),
        "channels_last": bool(channels_last),
        "pretrained": bool(pretrained) if isinstance(model, str) else None,
        "data_config": local._jsonable(data_config),
        "transform": None if data_config else repr(transform),
        "embeddings": embedding_source,
        "num_workers": workers,
        "cpus_per_worker": float(cpus),
        "gpus_per_worker": gpus,
        "shard_size": int(chunk_size),
        "cluster": cluster,
        "resumed_samples": int(n - computed),
        "seconds": round(seconds, 3),
        "images_per_second": round(computed / seconds, 2) if computed and seconds > 0 else None,
        "seconds_per_image": None if per_image is None else round(per_image, 6),
        # The resources the run held, per image (what the same work costs on another cluster).
        "cpu_seconds_per_image": None
        if per_image is None
        else round(per_image * workers * float(cpus), 6),
        "gpu_seconds_per_image": None
        if per_image is None or not use_gpu
        else round(per_image * workers * gpus, 6),
    }
    if isinstance(model, str):
        parameters["model_source"] = run_model.describe_timm(
            model, pretrained, model_kwargs, parameters["data_config"]
        )
    else:
        parameters["model_source"] = {"kind": "object", "class": type(model).__name__}
    result = store.add_run(
        run,
        probs,
        embeddings=None if emb is None else emb.astype(np_dtype),
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


def _run_shards(
    ray: Any,
    module: torch.nn.Module,
    transform: Any,
    paths: list[str],
    sample_ids: list[str],
    todo: list[int],
    chunk_size: int,
    n: int,
    folder: Path,
    *,
    num_classes: int,
    batch_size: int,
    workers: int,
    cpus: float,
    use_gpu: bool,
    precision: str,
    channels_last: bool,
    embeddings: bool,
    progress: bool,
    already_done: int,
) -> int:
    """Stream the unfinished shards through the actors; write each shard as soon as it is whole."""
    import pyarrow as pa
    import ray.data

    context = ray.data.DataContext.get_current()
    previous = (context.execution_options.preserve_order, context.enable_progress_bars)
    context.execution_options.preserve_order = True  # shards complete one after another
    context.enable_progress_bars = False  # the driver shows its own bar
    blocks = []
    bounds: dict[int, tuple[int, int]] = {}
    for shard in todo:
        start, stop = shard * chunk_size, min(n, (shard + 1) * chunk_size)
        bounds[shard] = (start, stop)
        blocks.append(
            pa.table(
                {
                    "position": pa.array(np.arange(start, stop), type=pa.int64()),
                    "sample_id": pa.array(sample_ids[start:stop], type=pa.string()),
                    "path": pa.array(paths[start:stop], type=pa.string()),
                }
            )
        )
    model_ref = ray.put(module)
    dataset = ray.data.from_arrow(blocks).map_batches(
        _Predictor,
        fn_constructor_kwargs={
            "model": model_ref,
            "num_classes": num_classes,
            "transform": transform,
            "precision": precision,
            "channels_last": channels_last,
            "embeddings": embeddings,
            "use_gpu": use_gpu,
            "threads": max(1, int(cpus)),
        },
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_cpus=cpus,
        num_gpus=1 if use_gpu else None,
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, initial=already_done, desc="predicting (ray)", unit="img")
    pending: dict[int, dict[str, list[np.ndarray]]] = {}
    counts: dict[int, int] = {}
    written: set[int] = set()
    computed = 0
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            positions = np.asarray(batch["position"], dtype=np.int64)
            if len(positions) == 0:
                continue
            shards = positions // chunk_size
            for shard in np.unique(shards):
                rows = np.flatnonzero(shards == shard)
                part = pending.setdefault(
                    int(shard), {"ids": [], "pos": [], "probs": [], "emb": []}
                )
                part["ids"].append(np.asarray(batch["sample_id"], dtype=object)[rows])
                part["pos"].append(positions[rows])
                part["probs"].append(np.asarray(batch["probs"], dtype=np.float32)[rows])
                if "embedding" in batch:
                    part["emb"].append(np.asarray(batch["embedding"], dtype=np.float32)[rows])
                counts[int(shard)] = counts.get(int(shard), 0) + len(rows)
                start, stop = bounds[int(shard)]
                if counts[int(shard)] == stop - start:
                    part = pending.pop(int(shard))
                    order = np.argsort(np.concatenate(part["pos"]), kind="stable")
                    _write_shard(
                        folder,
                        int(shard),
                        np.concatenate(part["ids"])[order],
                        np.concatenate(part["pos"])[order],
                        np.concatenate(part["probs"])[order],
                        np.concatenate(part["emb"])[order] if part["emb"] else None,
                    )
                    written.add(int(shard))
                    if _after_shard is not None:
                        _after_shard(int(shard))
            computed += len(positions)
            if bar is not None:
                bar.update(len(positions))
    except Exception as error:
        plain = _plain_error(error)
        if plain is not None:
            raise plain from None
        raise EngineError(
            f"the Ray run failed: {type(error).__name__}: {str(error).strip().splitlines()[-1]}; "
            f"finished shards are kept in {folder} and a rerun resumes from them"
        ) from error
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars = previous
        if bar is not None:
            bar.close()
    missing_shards = [shard for shard in todo if shard not in written]
    if missing_shards:
        got = {int(p) for part in pending.values() for chunk in part["pos"] for p in chunk}
        missing = [i for shard in missing_shards for i in range(*bounds[shard]) if i not in got]
        reasons = []
        for i in missing[:3]:
            try:
                _torch_data.load_rgb(paths[i])
                reasons.append(f"{sample_ids[i]!r}: readable here, not on the workers")
            except BadImageError as error:
                reasons.append(f"{sample_ids[i]!r}: {error}")
        raise BadImageError(
            f"{len(missing)} images could not be read by the Ray workers: samples "
            f"{describe([sample_ids[i] for i in missing])} ({'; '.join(reasons)}); every worker "
            "must reach the store's image paths; fix or remove those images (finished shards are "
            "kept and a rerun resumes from them)"
        )
    return computed


# -- cross-validation -----------------------------------------------------------------------------

#: Test hook: called with the fold number after each fold's result is saved (None: nothing).
_after_fold: Callable[[int], None] | None = None


def _fold_task(
    images: np.ndarray, config: dict[str, Any], job: Any, spec: dict[str, Any], folds: int
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None, float, str]:
    """One fold on a Ray worker: train on its split, predict its samples (same code as locally)."""
    import torch

    from erroranalysis.ingest.cross_val import _run_fold, _Trainer

    started = time.perf_counter()
    torch.set_num_threads(max(1, int(config["threads"])))
    device = torch.device("cuda" if config["use_gpu"] and torch.cuda.is_available() else "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the object store's arrays are read-only
        tensor = torch.from_numpy(images)
    trainer = _Trainer.from_settings(tensor, config, device)
    with torch.random.fork_rng(devices=[]):
        probs, emb, state = _run_fold(trainer, job, spec, folds)
    return probs, emb, state, time.perf_counter() - started, device.type


def cross_val_folds(
    store: Store,
    run: str,
    trainer: Any,
    jobs: list[Any],
    spec: dict[str, Any],
    *,
    folds: int,
    address: str | None = None,
    bar: Any = None,
    cpus_per_fold: float | None = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None]], dict[str, Any]]:
    """Train the folds of :func:`~erroranalysis.ingest.cross_val.cross_val_predict` as Ray tasks.

    The images (one uint8 array) go into Ray's object store once; every fold is a separate task
    (``num_gpus=1`` when the cluster has GPUs) that trains on its own split with the local
    engine's code and seeds. Each finished fold is saved in ``<store>/.work/ray-cv-<run>/`` at
    once, so a rerun after a killed driver only trains the missing folds.

    Returns
    -------
    results : list
        ``(probs, embeddings, portable state)`` per job, in the jobs' order.
    info : dict
        Cluster, resources per fold, seconds per fold, resumed folds.
    """
    ray = connect(address)
    cluster = cluster_description(ray, address)
    check_nodes(ray)
    images = trainer.images.numpy()
    config = trainer.settings()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.ascontiguousarray(images).tobytes())
    for value in (config["codes"], config["mean"], config["std"]):
        digest.update(np.ascontiguousarray(value).tobytes())
    for job in jobs:
        digest.update(np.asarray(job.train).tobytes())
        digest.update(np.asarray(job.asked).tobytes())
    fingerprint = hashlib.blake2b(
        json.dumps(
            {
                "format": _SHARD_FORMAT,
                "data": digest.hexdigest(),
                "config": {k: v for k, v in config.items() if k not in ("codes", "mean", "std")},
                "spec": {k: v for k, v in spec.items() if k != "model_kwargs"},
                "model_kwargs": repr(spec.get("model_kwargs")),
                "jobs": [[job.fold, job.embed, job.model_seed, job.fit_seed] for job in jobs],
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    folder = _torch_data.work_dir(store, f"ray-cv-{run}")
    done = _prepare_folds(folder, fingerprint)
    todo = [job for job in jobs if job.fold not in done]
    use_gpu = cluster["GPU"] >= 1
    cpus = cpus_per_fold
    if cpus is None:
        share = cluster["CPU"] / cluster["GPU"] if use_gpu else cluster["CPU"] / max(1, len(todo))
        largest = max(cluster["node_cpus"], default=cluster["CPU"])
        cpus = float(max(1.0, min(8.0, largest, share // 1)))
    config["threads"] = max(1, int(cpus))
    config["use_gpu"] = use_gpu
    seconds: dict[int, float] = {}
    devices: set[str] = set()
    started = time.perf_counter()
    if bar is not None and done:
        bar.update(trainer.epochs * len(done))
    if todo:
        if bar is not None:
            bar.set_description(f"folds on Ray ({len(todo)} tasks)")
        task = ray.remote(
            num_cpus=cpus, num_gpus=1 if use_gpu else 0, max_retries=2, retry_exceptions=False
        )(_fold_task)
        images_ref = ray.put(images)
        pending = {task.remote(images_ref, config, job, spec, folds): job.fold for job in todo}
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                fold = pending.pop(ready[0])
                probs, emb, state, took, device = ray.get(ready[0])
                _save_fold(folder, fold, probs, emb, state)
                seconds[fold] = round(float(took), 2)
                devices.add(device)
                if bar is not None:
                    bar.update(trainer.epochs)
                if _after_fold is not None:
                    _after_fold(fold)
        except Exception as error:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            plain = _plain_error(error)
            if plain is not None:
                raise plain from None
            raise EngineError(
                f"a Ray fold task failed: {type(error).__name__}: "
                f"{str(error).strip().splitlines()[-1]}; finished folds are kept in {folder} and "
                "a rerun resumes from them"
            ) from error
    results = [_load_fold(folder, job.fold) for job in jobs]
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()
    info = {
        "cluster": cluster,
        "tasks": len(todo),
        "resumed_folds": sorted(done),
        "cpus_per_fold": float(cpus),
        "gpus_per_fold": 1.0 if use_gpu else 0.0,
        "devices": sorted(devices),
        "fold_seconds": {str(k): v for k, v in sorted(seconds.items())},
        "seconds": round(time.perf_counter() - started, 2),
    }
    return results, info


def _fold_path(folder: Path, fold: int) -> Path:
    return folder / f"fold-{fold:03d}.pt"


def _prepare_folds(folder: Path, fingerprint: str) -> set[int]:
    """The folds an identical interrupted call finished (others are discarded)."""
    meta = folder / "meta.json"
    if folder.exists():
        previous = None
        with contextlib.suppress(OSError, ValueError):
            previous = json.loads(meta.read_text()).get("fingerprint")
        if previous == fingerprint:
            done = set()
            for path in folder.glob("fold-*.pt"):
                with contextlib.suppress(ValueError):
                    done.add(int(path.stem.split("-")[1]))
            return done
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tmp = meta.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint}))
    os.replace(tmp, meta)
    return set()


def _save_fold(
    folder: Path, fold: int, probs: np.ndarray, emb: np.ndarray | None, state: Any
) -> None:
    import torch

    target = _fold_path(folder, fold)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "wb") as handle:
        arrays = {"probs": torch.from_numpy(np.ascontiguousarray(probs))}
        if emb is not None:
            arrays["embeddings"] = torch.from_numpy(np.ascontiguousarray(emb))
        torch.save({**arrays, "state": state}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def _load_fold(folder: Path, fold: int) -> tuple[np.ndarray, np.ndarray | None, Any]:
    import torch

    data = torch.load(_fold_path(folder, fold), map_location="cpu", weights_only=True)
    emb = data.get("embeddings")
    return data["probs"].numpy(), None if emb is None else emb.numpy(), data["state"]
