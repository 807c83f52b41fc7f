"""Safe image loading: every image becomes 8-bit RGB, or a clear error naming the file.

What :func:`load_image` handles:

- EXIF orientation is applied (a phone photo shot in portrait comes out upright);
- CMYK, YCbCr, palette (with or without transparency), grey, 1-bit, grey+alpha and RGBA images
  become RGB; transparent pixels are composited onto white;
- 16-bit and 32-bit integer images (``I;16``, ``I``) and float images (``F``) are *scaled* to
  8 bits, never clipped (65535 becomes 255);
- truncated or corrupt files raise :class:`~erroranalysis.errors.BadImageError` naming the path;
- decompression bombs (dimensions in the header above ``max_pixels``) are refused with their
  pixel count *before* any pixel is decoded;
- with a ``root``, paths that escape it (``..``, an absolute path elsewhere, a symlink pointing
  outside) raise :class:`~erroranalysis.errors.PathOutsideRootError`.

:func:`check_images` verifies many images at once (in threads) and reports every bad one.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from erroranalysis.errors import BadImageError, PathOutsideRootError, describe

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "DecompressionBombRefused",
    "ImageCheckReport",
    "check_images",
    "load_image",
    "resolve_image_path",
]

#: Largest image (width × height) accepted by default: Pillow's own limit, about 179 megapixels.
DEFAULT_MAX_PIXELS = 178_956_970

#: File name endings treated as images when scanning folders.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jfif"}
)

# Image.open parses the header and runs Pillow's own decompression-bomb check, which warns (or
# raises) through the global warnings machinery; the lock keeps the warning filter change
# thread-safe. Only the header is read under the lock: decoding happens outside it.
_OPEN_LOCK = threading.Lock()


class DecompressionBombRefused(BadImageError):
    """An image's header claims more pixels than allowed; nothing was decoded."""


def resolve_image_path(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Resolve an image path, refusing any that escapes ``root``.

    Parameters
    ----------
    path : path-like
        The image path: relative to ``root``, or absolute.
    root : path-like, optional
        The image root. When given, the fully resolved path (symlinks followed) must lie inside
        the resolved root.

    Returns
    -------
    Path
        The path to open: ``path`` itself without a root, else the fully resolved path (so that
        what is opened is exactly what was checked).

    Raises
    ------
    PathOutsideRootError
        If the path, once ``..`` and symlinks are resolved, lies outside ``root``.
    """
    path = Path(os.fspath(path))
    if root is None:
        return path
    root = Path(os.fspath(root))
    full = path if path.is_absolute() else root / path
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(full))
    if real != real_root and real_root not in real.parents:
        raise PathOutsideRootError(
            f"image path {os.fspath(path)!r} resolves to {real}, outside the image root "
            f"{real_root}; move the image under the root or choose another root"
        )
    return real


def load_image(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> PILImage.Image:
    """Load an image safely as 8-bit RGB.

    Parameters
    ----------
    path : path-like
        The image file, relative to ``root`` when one is given.
    root : path-like, optional
        The image root; paths escaping it are refused.
    max_pixels : int or None
        Refuse images whose header claims more than this many pixels (width × height) before
        decoding anything. ``None`` lifts our limit (Pillow's own limit of twice
        ``PIL.Image.MAX_IMAGE_PIXELS`` still applies).

    Returns
    -------
    PIL.Image.Image
        A loaded RGB image (the file is closed), EXIF orientation applied.

    Raises
    ------
    PathOutsideRootError
        If the path escapes ``root``.
    DecompressionBombRefused
        If the image is larger than ``max_pixels`` (a :class:`BadImageError`).
    BadImageError
        If the file is missing, truncated, corrupt or not an image.
    """
    return _load(resolve_image_path(path, root), max_pixels=max_pixels, draft=False)


def _open(full: Path, max_pixels: int | None) -> PILImage.Image:
    """Open (header only) and check the size against ``max_pixels``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(full)
    except Image.DecompressionBombError as error:
        # Pillow refuses before we see the size; its message carries the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(error))
        claimed = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise DecompressionBombRefused(
            f"{full}: refused, its header claims {claimed}, more than Pillow's limit of "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,} (possible decompression bomb); only open it "
            "if you trust it (raise max_pixels and PIL.Image.MAX_IMAGE_PIXELS), or leave it out "
            "with skip_bad=True"
        ) from None
    except FileNotFoundError:
        raise BadImageError(f"{full}: no such file; fix the path or leave it out") from None
    except IsADirectoryError:
        raise BadImageError(f"{full}: is a directory, not an image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BadImageError(
            f"{full}: not a readable image ({error}); fix or remove the file, or leave it out "
            "with skip_bad=True"
        ) from None
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise DecompressionBombRefused(
            f"{full}: refused, its header claims {width}×{height} = {width * height:,} pixels, "
            f"more than max_pixels={max_pixels:,} (possible decompression bomb); only open it if "
            "you trust it (raise max_pixels), or leave it out with skip_bad=True"
        )
    return image


def _load(full: Path, max_pixels: int | None, draft: bool) -> PILImage.Image:
    from PIL import Image, ImageOps

    opened = _open(full, max_pixels)
    try:
        if draft and opened.format == "JPEG":
            # Decode at reduced scale: every byte of the stream is still read, so truncation
            # is still detected, at a fraction of the cost.
            opened.draft(opened.mode, (max(1, opened.width // 8), max(1, opened.height // 8)))
        opened.load()
        image = opened
        # A malformed EXIF block keeps the pixels as stored.
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, SyntaxError):
            image = ImageOps.exif_transpose(opened) or opened
        return _to_rgb(image)
    except BadImageError:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        Image.DecompressionBombError,
    ) as error:
        raise BadImageError(
            f"{full}: cannot decode ({error}); the file is truncated or corrupt — fix or remove "
            "it, or leave it out with skip_bad=True"
        ) from None
    finally:
        opened.close()


def _to_rgb(image: PILImage.Image) -> PILImage.Image:
    """Convert any Pillow mode to 8-bit RGB (alpha composited onto white, 16-bit scaled)."""
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image.copy()
    if mode in ("1", "L", "CMYK", "YCbCr", "HSV"):
        return image.convert("RGB")
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in image.info
        if not has_alpha:
            return image.convert("RGB")
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La", "RGBa", "RGBA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(image)
        return Image.fromarray(_scale_to_uint8(array, mode)).convert("RGB")
    if mode == "LAB":
        from PIL import ImageCms

        profile = ImageCms.createProfile("LAB")
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(image, profile, srgb, outputMode="RGB")
    raise BadImageError(f"unsupported image mode {mode!r}; convert the image to RGB first")


def _scale_to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    """Scale a 16/32-bit integer or float image to 0..255 without clipping."""
    array = array.astype(np.float64)
    if mode.startswith("I;16"):
        scaled = array / 257.0  # 65535 -> 255
    elif mode == "F" and array.size and np.nanmin(array) >= 0.0 and np.nanmax(array) <= 1.0:
        scaled = array * 255.0
    else:
        low = float(np.nanmin(array)) if array.size else 0.0
        high = float(np.nanmax(array)) if array.size else 0.0
        if mode == "I" and low >= 0 and high <= 255:
            scaled = array
        elif mode == "I" and low >= 0 and high <= 65535:
            scaled = array / 257.0
        elif high > low:
            scaled = (array - low) * (255.0 / (high - low))
        else:
            scaled = np.zeros_like(array)
    return np.clip(np.rint(np.nan_to_num(scaled)), 0, 255).astype(np.uint8)


@dataclass
class ImageCheckReport:
    """Outcome of :func:`check_images`.

    Attributes
    ----------
    ok : list of str
        Paths that loaded (in the order given).
    bad : list of tuple(str, str)
        ``(path, reason)`` of every path that did not load.
    """

    ok: list[str] = field(default_factory=list)
    bad: list[tuple[str, str]] = field(default_factory=list)

    @property
    def bad_paths(self) -> list[str]:
        """The paths that did not load."""
        return [path for path, _ in self.bad]

    def summary(self, limit: int = 5) -> str:
        """One line naming the first bad files, their reasons and the count."""
        total = len(self.ok) + len(self.bad)
        if not self.bad:
            return f"all {total} images are readable"
        shown = "; ".join(f"{path!r} ({reason})" for path, reason in self.bad[:limit])
        more = f" … and {len(self.bad) - limit} more" if len(self.bad) > limit else ""
        return f"{len(self.bad)} of {total} images cannot be read: {shown}{more}"


def _reason(error: Exception, full: Path) -> str:
    message = str(error)
    prefix = f"{full}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def check_images(
    paths: Iterable[str | os.PathLike],
    root: str | os.PathLike | None = None,
    skip_bad: bool = False,
    progress: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
) -> ImageCheckReport:
    """Verify that every image loads (fully decoded), in parallel threads.

    Parameters
    ----------
    paths : iterable of path-like
        Image paths, relative to ``root`` when one is given.
    root : path-like, optional
        The image root; a path escaping it is always refused (even with ``skip_bad``).
    skip_bad : bool
        Return the report even if some images are bad (the caller leaves them out); otherwise
        raise.
    progress : bool
        Show a progress bar.
    max_pixels : int or None
        Decompression-bomb limit, as in :func:`load_image`.
    workers : int, optional
        Number of threads (default: the number of CPUs, at most 8).

    Returns
    -------
    ImageCheckReport

    Raises
    ------
    PathOutsideRootError
        If any path escapes ``root``, listing them.
    BadImageError
        If any image is bad and ``skip_bad`` is False, naming the first few and the count.
    """
    paths = [os.fspath(p) for p in paths]
    # Path escapes are a refusal, not a bad file: check them all first, before decoding anything.
    outside = []
    resolved: list[Path] = []
    for path in paths:
        try:
            resolved.append(resolve_image_path(path, root))
        except PathOutsideRootError:
            outside.append(path)
    if outside:
        raise PathOutsideRootError(
            f"{len(outside)} image path(s) escape the image root {root}: {describe(outside)}; "
            "move them under the root or choose another root"
        )

    def verify(index: int) -> tuple[int, str | None]:
        full = resolved[index]
        try:
            image = _load(full, max_pixels=max_pixels, draft=True)
        except BadImageError as error:
            return index, _reason(error, full)
        image.close()
        return index, None

    report = ImageCheckReport()
    results: list[tuple[int, str | None]] = []
    n_workers = workers or min(8, os.cpu_count() or 1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="checking images", unit="img", leave=False)
    with ThreadPoolExecutor(max_workers=max(1, n_workers)) as pool:
        for result in pool.map(verify, range(len(paths)), chunksize=1):
            results.append(result)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    for index, reason in results:
        if reason is None:
            report.ok.append(paths[index])
        else:
            report.bad.append((paths[index], reason))
    if report.bad and not skip_bad:
        raise BadImageError(
            f"{report.summary()}. Fix or remove them, or pass skip_bad=True (--skip-bad) to leave "
            "them out"
        )
    return report


def _is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def list_image_files(folder: Path, root: Path) -> Sequence[Path]:
    """Image files under ``folder`` (recursively, symlinks followed if they stay in ``root``).

    Hidden files and folders (names starting with ``.``) are skipped. The result is sorted.
    """
    real_root = Path(os.path.realpath(root))
    found: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real_dir = os.path.realpath(dirpath)
        if real_dir in seen:
            dirnames[:] = []
            continue
        seen.add(real_dir)
        real = Path(real_dir)
        if real != real_root and real_root not in real.parents:
            raise PathOutsideRootError(
                f"folder {dirpath} resolves to {real_dir}, outside the image root {real_root}; "
                "replace the symlink by the files or choose another root"
            )
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            Path(dirpath) / name
            for name in filenames
            if not name.startswith(".") and _is_image_file(Path(name))
        )
    return sorted(found)
