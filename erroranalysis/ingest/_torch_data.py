"""Shared torch helpers for :mod:`~erroranalysis.ingest.predict` and
:mod:`~erroranalysis.ingest.cross_val`: devices, precision, worker counts, seeding, and reading the
store's images (as a torch ``Dataset`` or all at once into one uint8 tensor).

Everything here imports torch lazily or is only imported by modules that already need torch.
"""

from __future__ import annotations

import hashlib
import os
import random
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from erroranalysis.errors import BadImageError, ErrorAnalysisError, describe

if TYPE_CHECKING:
    import torch
    from PIL import Image as PILImage

    from erroranalysis.store import Store

__all__ = [
    "StoreImageDataset",
    "cpu_supports_bf16",
    "default_num_workers",
    "image_paths",
    "load_image_tensor",
    "load_rgb",
    "resolve_device",
    "resolve_precision",
    "seed_everything",
    "state_fingerprint",
]


def load_rgb(path: str | os.PathLike) -> PILImage.Image:
    """Load one image as 8-bit RGB with the package's safe loader.

    Uses :func:`erroranalysis.ingest.images.load_image` (EXIF orientation, 16-bit scaling,
    decompression-bomb guard); falls back to Pillow's ``convert("RGB")`` only if that module is
    missing from the installation.
    """
    try:
        from erroranalysis.ingest.images import load_image
    except ImportError:  # pragma: no cover - the loader ships with the package
        from PIL import Image

        with Image.open(path) as image:
            return image.convert("RGB")
    return load_image(path)


def image_paths(store: Store) -> list[str]:
    """Absolute image path (or URL) of every sample, in the store's sample order.

    Raises
    ------
    ErrorAnalysisError
        If the store has no image paths.
    """
    if "path" not in store.samples.columns:
        raise ErrorAnalysisError(
            f"store {store.path} has no image paths (its samples had no 'path' column), so there "
            "is nothing to run a model on; add predictions you computed elsewhere with "
            "store.add_run(...) instead"
        )
    paths = [os.fspath(store.image_path(sample_id)) for sample_id in store.sample_ids]
    urls = [path for path in paths if "://" in path]
    if urls:
        raise BadImageError(
            f"{len(urls)} samples have image URLs ({describe(urls)}); inference reads local files "
            "only: download the images and ingest the folder, or predict elsewhere and use "
            "store.add_run(...)"
        )
    return paths


class _DatasetBase:
    """Mixin holding the paths, ids and transform of :class:`StoreImageDataset`."""

    def __init__(
        self,
        paths: Sequence[str],
        sample_ids: Sequence[str],
        transform: Callable[[Any], Any] | None,
        indices: Sequence[int] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.sample_ids = list(sample_ids)
        self.transform = transform
        self.indices = list(range(len(self.paths))) if indices is None else list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[Any, int]:
        index = self.indices[item]
        try:
            image = load_rgb(self.paths[index])
        except BadImageError as error:
            raise BadImageError(
                f"sample {self.sample_ids[index]!r}: {error}; fix or replace the image, or remove "
                "the sample from the store"
            ) from error
        if self.transform is not None:
            image = self.transform(image)
        return image, index


def StoreImageDataset(
    paths: Sequence[str],
    sample_ids: Sequence[str],
    transform: Callable[[Any], Any] | None,
    indices: Sequence[int] | None = None,
) -> torch.utils.data.Dataset:
    """A torch ``Dataset`` yielding ``(transform(image), position)`` for the given positions.

    Parameters
    ----------
    paths : sequence of str
        Image path of every sample (see :func:`image_paths`).
    sample_ids : sequence of str
        Sample ids (for error messages).
    transform : callable, optional
        Applied to the RGB ``PIL.Image``.
    indices : sequence of int, optional
        Positions to serve, in order (default: all).
    """
    import torch.utils.data

    class _StoreImageDataset(_DatasetBase, torch.utils.data.Dataset):
        pass

    return _StoreImageDataset(paths, sample_ids, transform, indices)


def load_image_tensor(
    store: Store,
    image_size: int | tuple[int, int] | None = None,
    progress: bool = True,
    desc: str = "loading images",
    workers: int = 0,
) -> torch.Tensor:
    """Read every image of the store once into one ``uint8`` tensor ``(N, 3, H, W)``.

    Parameters
    ----------
    store : Store
    image_size : int or (height, width), optional
        Resize every image to this size (bilinear). Default: the size of the first image (images
        of another size are resized to it, with a warning).
    progress : bool
        Show a progress bar.
    desc : str
        Progress bar label.
    workers : int
        Threads decoding images (0: decode in this thread).

    Returns
    -------
    torch.Tensor
        ``uint8`` tensor, row ``i`` is sample ``i``.

    Raises
    ------
    BadImageError
        Naming unreadable images.
    """

    paths = image_paths(store)
    ids = list(store.sample_ids)
    size: tuple[int, int] | None = None
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    iterator: Any = range(len(paths))
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=desc, unit="img", leave=False)
    bad: list[str] = []
    wrong_size: list[str] = []

    def read(i: int) -> Any:
        try:
            return load_rgb(paths[i])
        except BadImageError:
            return None

    pool = None
    if workers > 0:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=workers)
        # Pillow decodes without the GIL; keep the order, at most a few hundred images ahead.
        iterator = _ordered_map(pool, read, iterator)
    else:
        iterator = ((i, read(i)) for i in iterator)
    try:
        out = _fill(iterator, ids, len(paths), size, image_size, bad, wrong_size)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if out is not None:
        size = (int(out.shape[2]), int(out.shape[3]))
    if bad:
        raise BadImageError(
            f"{len(bad)} images could not be read: samples {describe(bad)}; check them with "
            "erroranalysis.ingest.check_images and fix or remove them"
        )
    if wrong_size:
        warnings.warn(
            f"{len(wrong_size)} images are not {size[0]}×{size[1]} like the first one (samples "
            f"{describe(wrong_size)}); they were resized to it; pass image_size=... to choose",
            stacklevel=2,
        )
    if out is None:
        raise ErrorAnalysisError(f"store {store.path} has no samples")
    return out


def _ordered_map(pool: Any, function: Any, items: Any, ahead: int = 256) -> Any:
    """``(item, function(item))`` in order, with at most ``ahead`` calls in flight."""
    from collections import deque

    pending: deque = deque()
    for item in items:
        pending.append((item, pool.submit(function, item)))
        if len(pending) >= ahead:
            first, future = pending.popleft()
            yield first, future.result()
    while pending:
        first, future = pending.popleft()
        yield first, future.result()


def _fill(
    loaded: Any,
    ids: list[str],
    n: int,
    size: tuple[int, int] | None,
    image_size: Any,
    bad: list[str],
    wrong_size: list[str],
) -> torch.Tensor | None:
    """Copy decoded images into one uint8 tensor, resizing to ``size`` (the first image's if None)."""
    import torch
    from PIL import Image

    out: torch.Tensor | None = None
    for i, image in loaded:
        if image is None:
            bad.append(ids[i])
            continue
        if size is None:
            size = (image.height, image.width)
        if (image.height, image.width) != size:
            if image_size is None:
                wrong_size.append(ids[i])
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        if out is None:
            out = torch.empty((n, 3, size[0], size[1]), dtype=torch.uint8)
        out[i] = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)
    return out


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when available, else the CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ErrorAnalysisError(
            f"device {str(device)!r} was asked for but CUDA is not available here; pass "
            "device='cpu' or device=None"
        )
    return device


def cpu_supports_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AMX or AVX512-BF16).

    Elsewhere bfloat16 is emulated and 6–15× slower than float32, so it is never used there.
    """
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        flags = set()
    if flags:
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    try:  # other platforms: ask oneDNN
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """Resolve ``"auto"`` and refuse precisions the device cannot run fast.

    ``"auto"`` is ``"fp32"`` on the CPU (bfloat16 rarely pays on CPUs at these batch sizes, and
    never without AMX/AVX512-BF16) and ``"bf16"`` (or ``"fp16"`` on older GPUs) on CUDA.
    """
    import torch

    if precision not in _PRECISIONS:
        raise ErrorAnalysisError(
            f"precision must be one of {', '.join(_PRECISIONS)}; got {precision!r}"
        )
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if device.type == "cpu" and precision == "bf16" and not cpu_supports_bf16():
        raise ErrorAnalysisError(
            "precision='bf16' was asked for, but this CPU has neither AMX nor AVX512-BF16, where "
            "bfloat16 is 6–15× slower than float32; use precision='fp32'"
        )
    if device.type == "cpu" and precision == "fp16":
        raise ErrorAnalysisError(
            "precision='fp16' is for GPUs; on the CPU use precision='fp32' (or 'bf16' where the "
            "CPU has AMX/AVX512-BF16)"
        )
    return precision


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a resolved precision (``None`` for fp32)."""
    import torch

    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def default_num_workers() -> int:
    """DataLoader workers: leave the cores to the model on small machines.

    One worker per spare core beyond two, at most 8; 0 (load in the main process) on machines
    with two cores or fewer, where a worker would steal a core from the model's threads.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return int(min(8, max(0, (cores or 1) - 2)))


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's random generators."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def state_fingerprint(module: torch.nn.Module) -> str:
    """A hash of a module's parameters and buffers (to tell whether saved chunks are reusable)."""
    import torch

    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        value = tensor.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        digest.update(str(tuple(value.shape)).encode())
        digest.update(np.ascontiguousarray(value.numpy()).tobytes())
    return digest.hexdigest()


def work_dir(store: Store, name: str) -> Path:
    """A scratch folder for resumable work inside the store (``<store>/.work/<name>``)."""
    return Path(store.path) / ".work" / name
