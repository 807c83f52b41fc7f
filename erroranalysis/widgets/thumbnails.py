"""Thumbnails, made once per sample and size and cached in the store's ``cache/thumbnails``.

A thumbnail is a small JPEG (PNG for images with few colours is not worth the check) written
atomically next to the store, then kept in memory as a ``data:`` URL for the front-ends.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ThumbnailCache"]

logger = logging.getLogger(__name__)


def _load(path: Any) -> Any:
    """Open an image safely (the ingest package's loader when present, else PIL)."""
    try:
        from erroranalysis.ingest.images import load_image
    except ImportError:
        load_image = None
    if load_image is not None:
        return load_image(path)
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")


class ThumbnailCache:
    """Make, store and serve thumbnails of a store's images.

    Parameters
    ----------
    store : Store
        The store whose images to show.
    folder : path-like, optional
        Where to keep thumbnail files (default ``<store>/cache/thumbnails``).
    """

    def __init__(self, store: Any, folder: Any = None) -> None:
        self.store = store
        self.folder = (
            Path(folder) if folder is not None else Path(store.path) / "cache" / "thumbnails"
        )
        self._memory: dict[tuple[str, int], str] = {}
        self.made = 0
        self.failed: dict[str, str] = {}

    def file_for(self, sample_id: str, size: int) -> Path:
        """The cache file of ``sample_id`` at ``size`` pixels."""
        digest = hashlib.sha1(str(sample_id).encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest}_{int(size)}.jpg"

    def data_url(self, sample_id: str, size: int = 96) -> str:
        """A ``data:image/jpeg;base64,...`` URL of the thumbnail, or ``""`` when there is no image."""
        key = (str(sample_id), int(size))
        cached = self._memory.get(key)
        if cached is not None:
            return cached
        raw = self.thumbnail_bytes(sample_id, size)
        url = "data:image/jpeg;base64," + base64.b64encode(raw).decode("ascii") if raw else ""
        self._memory[key] = url
        return url

    def thumbnail_bytes(self, sample_id: str, size: int = 96) -> bytes:
        """JPEG bytes of the thumbnail (made and cached on first use); ``b""`` without an image."""
        target = self.file_for(sample_id, size)
        if target.exists():
            return target.read_bytes()
        if str(sample_id) in self.failed or "path" not in self.store.samples.columns:
            return b""
        try:
            source = self.store.image_path(sample_id)
        except (ValueError, KeyError, OSError) as error:
            self.failed[str(sample_id)] = str(error)
            return b""
        if isinstance(source, str) and "://" in source:
            return b""  # remote images are not fetched from the widgets
        try:
            image = _load(source)
        except (OSError, ValueError) as error:
            self.failed[str(sample_id)] = str(error)
            level = logging.WARNING if len(self.failed) == 1 else logging.DEBUG
            logger.log(
                level,
                "no thumbnail for %r: %s (shown as a placeholder; see ThumbnailCache.failed "
                "for every image that could not be read)",
                sample_id,
                error,
            )
            return b""
        image = image.convert("RGB")
        image.thumbnail((size, size))
        if min(image.size) < size // 2:  # upscale tiny images so they are visible
            scale = size / max(image.size)
            image = image.resize(
                (max(1, round(image.width * scale)), max(1, round(image.height * scale))), 0
            )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        raw = buffer.getvalue()
        self._write(target, raw)
        self.made += 1
        return raw

    def _write(self, target: Path, raw: bytes) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
            os.replace(tmp, target)
        except OSError as error:  # a read-only store still shows thumbnails (memory only)
            logger.debug("could not cache thumbnail %s: %s", target, error)
