"""What every generated dataset folder offers: its image root, its size, and a store of it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from erroranalysis.store import Store


class ImageFolderDataset:
    """Mixin for dataset dataclasses with ``path``, ``classes`` and ``samples`` fields."""

    path: Path
    classes: list[str]
    samples: pd.DataFrame

    @property
    def image_root(self) -> Path:
        """The folder the ``path`` column is relative to (the dataset folder)."""
        return self.path

    def __len__(self) -> int:
        return len(self.samples)

    def create_store(self, store_path: str | os.PathLike, overwrite: bool = False) -> Store:
        """Create a store holding these samples (given labels and metadata, never any truth).

        Parameters
        ----------
        store_path : path-like
            Where to create the store.
        overwrite : bool
            Replace an existing store there.

        Returns
        -------
        Store
        """
        from erroranalysis.store import Store

        return Store.create(
            store_path,
            classes=list(self.classes),
            samples=self.samples,
            image_root=self.image_root,
            overwrite=overwrite,
        )
