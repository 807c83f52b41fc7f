"""One model's predictions on the store's samples, and the analysis results cached with them."""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from erroranalysis.errors import MissingResultError, ShapeMismatchError
from erroranalysis.store._atomic import write_atomic, write_text_atomic

if TYPE_CHECKING:
    from erroranalysis.store.store import Store

__all__ = ["Run"]


class Run:
    """A published run folder: ``run.json``, ``probs.npy``, optional ``embeddings.npy``.

    Runs are created by :meth:`Store.add_run`; open one with :meth:`Store.run`. Arrays are
    memory-mapped read-only, rows in the store's sample order.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.name
        self.info: dict[str, Any] = json.loads((self.path / "run.json").read_text())
        self._probs: np.ndarray | None = None
        self._embeddings: np.ndarray | None = None

    def __repr__(self) -> str:
        return (
            f"Run({self.name!r}, samples={self.info.get('num_samples')}, "
            f"classes={self.info.get('num_classes')}, out_of_sample={self.out_of_sample})"
        )

    @property
    def probs(self) -> np.ndarray:
        """N×K predicted probabilities (memory-mapped, read-only)."""
        if self._probs is None:
            self._probs = np.load(self.path / "probs.npy", mmap_mode="r")
        return self._probs

    @property
    def embeddings(self) -> np.ndarray | None:
        """N×D embeddings (memory-mapped, read-only), or None when the run has none."""
        if self._embeddings is None and (self.path / "embeddings.npy").exists():
            self._embeddings = np.load(self.path / "embeddings.npy", mmap_mode="r")
        return self._embeddings

    @property
    def out_of_sample(self) -> bool:
        return bool(self.info.get("out_of_sample", True))

    @property
    def cache_dir(self) -> Path:
        """A folder for other caches of this run (thumbnails, UMAP models, …)."""
        folder = self.path / "cache"
        folder.mkdir(exist_ok=True)
        return folder

    # -- cached results ------------------------------------------------------------------------

    def _results_dir(self) -> Path:
        folder = self.path / "results"
        folder.mkdir(exist_ok=True)
        return folder

    def _artifacts_dir(self) -> Path:
        folder = self.path / "artifacts"
        folder.mkdir(exist_ok=True)
        return folder

    def save_result(
        self,
        name: str,
        frame: pd.DataFrame,
        label_dependent: bool = False,
        parameters: dict[str, Any] | None = None,
        label_version: int | None = None,
    ) -> None:
        """Cache a per-sample result (N rows in sample order), atomically.

        Parameters
        ----------
        name : str
            The result's name (usually the analysis name).
        frame : DataFrame
            One row per sample, in the store's sample order.
        label_dependent : bool
            Whether the result depends on the current labels (then it goes stale on a relabel).
        parameters : dict, optional
            The analysis parameters, kept for provenance.
        label_version : int, optional
            The store's label version the result was computed at (``store.label_version``).
        """
        expected = int(self.info["num_samples"])
        if len(frame) != expected:
            raise ShapeMismatchError(
                f"result {name!r} must have one row per sample: expected {expected}, got {len(frame)}"
            )
        folder = self._results_dir()
        table = frame.reset_index(drop=True)
        write_atomic(folder / f"{name}.parquet", lambda temporary: table.to_parquet(temporary))
        meta = {
            "label_dependent": label_dependent,
            "parameters": parameters or {},
            "label_version": label_version,
            "created": time.time(),
            "columns": list(table.columns),
        }
        write_text_atomic(folder / f"{name}.json", json.dumps(meta, default=str))
        self._record_result_name(name)

    def _record_result_name(self, name: str) -> None:
        # Read-modify-write of run.json under an exclusive lock, from the file as it is now: a
        # handle opened before another handle (or process) saved a result must not write its
        # stale copy back and drop that result from the list.
        with open(self.path / ".run.json.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                info = json.loads((self.path / "run.json").read_text())
                order = info.setdefault("results", [])
                if name not in order:
                    order.append(name)
                    write_text_atomic(self.path / "run.json", json.dumps(info, indent=2))
                self.info = info
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load_result(self, name: str) -> pd.DataFrame | None:
        path = self.path / "results" / f"{name}.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def result_info(self, name: str) -> dict[str, Any] | None:
        path = self.path / "results" / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def results(self) -> list[str]:
        """Names of the cached per-sample results, in the order they were first saved."""
        self.info = json.loads((self.path / "run.json").read_text())
        return [
            name
            for name in self.info.get("results", [])
            if (self.path / "results" / f"{name}.parquet").exists()
        ]

    def column(self, column: str) -> np.ndarray:
        """One per-sample result column as a numpy array, read alone from its cached result."""
        cache = self.__dict__.setdefault("_columns", {})
        for name in reversed(self.results()):
            info = self.result_info(name) or {}
            if column in info.get("columns", []):
                created = info.get("created")
                cached = cache.get(column)
                if cached is None or cached[0] != created:
                    table = pd.read_parquet(
                        self.path / "results" / f"{name}.parquet", columns=[column]
                    )
                    cached = (created, table[column].to_numpy())
                    cache[column] = cached
                return cached[1]
        available = [
            c for name in self.results() for c in (self.result_info(name) or {}).get("columns", [])
        ]
        raise MissingResultError(
            f"run {self.name!r} has no result column {column!r}; cached columns: "
            f"{', '.join(available) or 'none (run ea.scan(store) first)'}"
        )

    def is_stale(self, name: str, store: Store) -> bool:
        """True when a label-dependent result predates the store's latest label change."""
        info = self.result_info(name) or self.artifact_info(name)
        if info is None:
            return True
        if not info.get("label_dependent"):
            return False
        return int(info.get("label_version") or 0) < store.label_version

    def save_artifact(
        self,
        name: str,
        value: Any,
        label_dependent: bool = False,
        label_version: int | None = None,
    ) -> None:
        """Cache a table (DataFrame, as Parquet) or a JSON-able value, atomically."""
        folder = self._artifacts_dir()
        for stale in folder.glob(f"{name}.*"):
            if stale.suffix in (".parquet", ".json") and stale.stem == name:
                stale.unlink()
        if isinstance(value, pd.DataFrame):
            write_atomic(folder / f"{name}.parquet", lambda temporary: value.to_parquet(temporary))
        else:
            write_text_atomic(folder / f"{name}.json", json.dumps(value, default=_to_json))
        meta = {
            "label_dependent": label_dependent,
            "label_version": label_version,
            "created": time.time(),
        }
        write_text_atomic(folder / f"{name}.meta", json.dumps(meta))

    def load_artifact(self, name: str) -> Any:
        folder = self.path / "artifacts"
        if (folder / f"{name}.parquet").exists():
            return pd.read_parquet(folder / f"{name}.parquet")
        if (folder / f"{name}.json").exists():
            return json.loads((folder / f"{name}.json").read_text())
        return None

    def artifact_info(self, name: str) -> dict[str, Any] | None:
        path = self.path / "artifacts" / f"{name}.meta"
        return json.loads(path.read_text()) if path.exists() else None


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a JSON artifact")
