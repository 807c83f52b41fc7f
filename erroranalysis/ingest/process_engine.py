"""The ``engine="processes"`` of :func:`~erroranalysis.ingest.cross_val.cross_val_predict`.

The folds of a k-fold run are independent, so on a machine with several cores they can train side
by side in local worker processes, one torch thread each, instead of one after another in this
process: the cores are shared out by folds, not by threads. Small networks gain most — timm's
``test_resnet`` at 32 px gets almost nothing from a second torch thread but trains two folds in
the time of one on two cores.

The workers are started with ``spawn`` (not ``fork``: forking a process whose torch / OpenMP
thread pools are running can hang the child), so each imports torch and timm afresh (a second or
two). The images go into one block of shared memory that every worker maps, rather than a copy
per worker. Each worker runs the local engine's own fold code (:func:`~erroranalysis.ingest.
cross_val._run_fold`) with the same per-job seeds, so the run equals the local engine's at one
torch thread. Progress is relayed per epoch through a queue to the parent's bar.
"""

from __future__ import annotations

import os
import queue as queue_module
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from erroranalysis.errors import EngineError

__all__ = ["cross_val_folds", "default_workers"]

# Set in each worker by _init_worker: the trainer's settings and the mapped image block.
_WORKER: dict[str, Any] = {}


def default_workers(jobs: int) -> int:
    """Worker processes for ``jobs`` fold jobs: one per job, at most one per core.

    Parameters
    ----------
    jobs : int
        Number of models to train.

    Returns
    -------
    int
        ``min(jobs, os.cpu_count())``, at least 1.
    """
    return max(1, min(int(jobs), os.cpu_count() or 1))


class _QueueBar:
    """The part of a tqdm bar that :class:`~erroranalysis.ingest.cross_val._Trainer` uses,
    relayed to the parent through a queue (tqdm itself cannot cross processes)."""

    def __init__(self, messages: Any) -> None:
        self.messages = messages

    def update(self, n: int = 1) -> None:
        self.messages.put(("update", int(n)))

    def set_postfix(self, **values: Any) -> None:
        self.messages.put(("postfix", {k: str(v) for k, v in values.items()}))

    def set_description(self, text: str) -> None:  # the parent names the running folds itself
        pass


def _init_worker(shm_name: str, shape: tuple[int, ...], config: dict[str, Any], messages: Any):
    """Map the shared images and build the trainer once per worker (one torch thread)."""
    from multiprocessing import shared_memory

    import torch

    from erroranalysis.ingest.cross_val import _Trainer

    torch.set_num_threads(1)
    block = shared_memory.SharedMemory(name=shm_name)
    images = np.ndarray(shape, dtype=np.uint8, buffer=block.buf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # not writable: the trainer only reads
        tensor = torch.from_numpy(images)
    _WORKER["block"] = block  # keeps the mapping alive for the worker's life
    _WORKER["trainer"] = _Trainer.from_settings(
        tensor,
        config,
        torch.device(config["device"]),
        bar=_QueueBar(messages) if messages is not None else None,
    )


def _fold_task(
    job: Any, spec: dict[str, Any], folds: int
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None, float]:
    """One fold in a worker: the local engine's code and seeds; also its seconds."""
    import torch

    from erroranalysis.ingest.cross_val import _run_fold

    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        probs, emb, state = _run_fold(_WORKER["trainer"], job, spec, folds)
    return probs, emb, state, time.perf_counter() - started


def cross_val_folds(
    trainer: Any,
    jobs: list[Any],
    spec: dict[str, Any],
    *,
    folds: int,
    workers: int,
    bar: Any = None,
) -> tuple[list[tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None]], dict[str, Any]]:
    """Train the fold jobs of :func:`~erroranalysis.ingest.cross_val.cross_val_predict` in a pool
    of ``workers`` spawned processes, one torch thread each.

    Parameters
    ----------
    trainer : _Trainer
        The parent's trainer; its images and settings are shipped (not its progress bar).
    jobs : list of _FoldJob
        The models to train.
    spec : dict
        Model name, pretrained, number of classes, model keyword arguments, whether to keep
        the weights.
    folds : int
        Number of folds (job ``fold == folds`` is the all-samples embedding model).
    workers : int
        Worker processes (at least 1).
    bar : tqdm, optional
        The parent's bar; advanced per epoch of every worker.

    Returns
    -------
    results : list
        ``(probs, embeddings, portable state)`` per job, in the jobs' order.
    info : dict
        ``workers`` and the seconds each job took in its worker.

    Raises
    ------
    ErrorAnalysisError
        The error a worker raised on bad input (same type and message as the local engine's).
    EngineError
        If a worker process died (killed, out of memory).
    """
    import multiprocessing
    from multiprocessing import shared_memory

    images = np.ascontiguousarray(trainer.images.numpy())
    config = {**trainer.settings(), "device": str(trainer.device)}
    context = multiprocessing.get_context("spawn")
    messages = context.Queue() if bar is not None else None
    block = shared_memory.SharedMemory(create=True, size=max(1, images.nbytes))
    results: dict[int, tuple[np.ndarray, np.ndarray | None, dict[str, Any] | None]] = {}
    seconds: dict[int, float] = {}
    try:
        np.ndarray(images.shape, dtype=np.uint8, buffer=block.buf)[...] = images
        if bar is not None:
            bar.set_description(f"folds in {workers} processes")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(block.name, images.shape, config, messages),
        ) as pool:
            pending: dict[Future, Any] = {
                pool.submit(_fold_task, job, spec, folds): job for job in jobs
            }
            try:
                while pending:
                    done, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
                    _relay(messages, bar)
                    for future in done:
                        job = pending.pop(future)
                        probs, emb, state, took = future.result()
                        results[job.fold] = (probs, emb, state)
                        seconds[job.fold] = round(float(took), 2)
            except BaseException:
                # Do not wait for the other folds to finish training: stop their workers.
                pool.shutdown(wait=False, cancel_futures=True)
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.terminate()
                raise
        _relay(messages, bar)  # the workers have exited: their last messages are in the pipe
    except BrokenProcessPool as error:
        raise EngineError(
            f"a fold worker process died ({error}); rerun with engine='local' or fewer workers "
            "if memory is short"
        ) from error
    finally:
        if messages is not None:
            messages.close()
            messages.join_thread()
        del images
        block.close()
        block.unlink()
    info = {"workers": int(workers), "fold_seconds": [seconds[job.fold] for job in jobs]}
    return [results[job.fold] for job in jobs], info


def _relay(messages: Any, bar: Any) -> None:
    """Apply the workers' progress messages to the parent's bar."""
    if messages is None or bar is None:
        return
    while True:
        try:
            kind, value = messages.get_nowait()
        except queue_module.Empty:
            return
        if kind == "update":
            bar.update(value)
        else:
            bar.set_postfix(**value)
