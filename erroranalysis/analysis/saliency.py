"""What did the model look at? Grad-CAM maps (pytorch-grad-cam) for the predicted and the given class.

:func:`explain` loads the model that produced a run (see :mod:`erroranalysis.ingest.run_model`;
for a cross-validated run, the fold model that did not train on the sample), runs
``pytorch_grad_cam.GradCAM`` on the samples' images and returns one map per sample for the
predicted class and one for the current (given or corrected) label. Maps are cached in the run
folder (``cache/gradcam/``), keyed by sample, class and settings, so a second call is a file read.

The target layer is chosen automatically:

- **CNNs** (timm ResNets, ConvNeXt, EfficientNet, …): the last stage (from timm's
  ``feature_info``) whose feature map is at least ``min_grid`` cells on its short side at this
  input size; for usual sizes (224 px) that is the last stage. A small model at 32 px has a 1×1
  last stage, where Grad-CAM says nothing, so an earlier stage is taken and named in the result.
- **ViT-style** models (``patch_embed`` + ``blocks``): the last block's ``norm1`` tokens, with
  the ``num_prefix_tokens`` (class, distillation and register tokens) dropped and the rest reshaped
  to the patch grid of the actual input (input size // ``patch_embed.patch_size``), so any input
  size works; NHWC models (Swin) are transposed.
- other torch modules: the last ``nn.Conv2d``; ``layer="name"`` chooses any layer.

A model none of these fits gets :class:`UnsupportedModelError` saying what to pass.

Only the gradient *at* the target layer is needed, so the parameters are frozen during the call and
the target layer's output is made the leaf of the backward pass: the backward pass then stops at
that layer instead of running through the whole network (see ``bench/gradcam.py``).

>>> maps = ea.explain(store, ["syn-00017"])          # doctest: +SKIP
>>> maps.predicted_maps.shape                          # doctest: +SKIP
(1, 32, 32)
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from erroranalysis.errors import ErrorAnalysisError, describe

if TYPE_CHECKING:
    import torch

    from erroranalysis.store import Run, Store

__all__ = ["Explanations", "UnsupportedModelError", "explain"]

_CACHE_FORMAT = 1


class UnsupportedModelError(ErrorAnalysisError):
    """Grad-CAM cannot find a spatial feature layer in this model."""


@dataclass
class Explanations:
    """Grad-CAM maps of some samples of a run.

    Attributes
    ----------
    sample_ids : list of str
    predicted, given : list of str (given: None for an unlabelled sample)
        The predicted class and the current label of each sample.
    predicted_maps, given_maps : ndarray (n, H, W) float32 in [0, 1]
        One map per sample at the model's input resolution (NaN for a sample without a label).
    images : ndarray (n, H, W, 3) uint8
        What the model saw (resized, cropped), the maps' pixel grid.
    layers : list of str
        The target layer used for each sample.
    folds : list of int or None
        For cross-validated runs, the fold model that explained each sample (it never trained on
        it); None otherwise.
    """

    sample_ids: list[str]
    predicted: list[str]
    given: list[str | None]
    predicted_maps: np.ndarray
    given_maps: np.ndarray
    images: np.ndarray
    layers: list[str] = field(default_factory=list)
    folds: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sample_ids)

    def overlay(self, index: int, which: str = "predicted", alpha: float = 0.5) -> np.ndarray:
        """The image with the map laid over it as a heat map (H, W, 3 uint8)."""
        maps = {"predicted": self.predicted_maps, "given": self.given_maps}
        if which not in maps:
            raise ErrorAnalysisError(f"which must be 'predicted' or 'given'; got {which!r}")
        return overlay(self.images[index], maps[which][index], alpha)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map over an RGB uint8 image with a jet-like colour map (no OpenCV needed)."""
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0)
    # A four-segment approximation of the jet colour map: blue → cyan → yellow → red.
    r = np.clip(1.5 - np.abs(4 * heat - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * heat - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * heat - 1), 0, 1)
    colour = np.stack([r, g, b], axis=-1) * 255
    blended = (1 - alpha) * image.astype(np.float32) + alpha * colour
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def explain(
    store: Store,
    sample_ids: Any,
    run: str | Run | None = None,
    *,
    layer: str | None = None,
    min_grid: int = 4,
    batch_size: int = 16,
    cache: bool = True,
    compute: bool = True,
) -> Explanations | None:
    """Grad-CAM maps for the predicted class and the current label of some samples.

    Parameters
    ----------
    store : Store
    sample_ids : str or sequence of str
    run : str or Run, optional
        Default: the latest run.
    layer : str, optional
        Name of the target layer (``model.get_submodule(layer)``); default: chosen automatically
        (module docstring).
    min_grid : int
        With automatic choice in a CNN, the smallest feature map side (cells) to accept.
    batch_size : int
        Images per Grad-CAM pass.
    cache : bool
        Read and write maps under the run's ``cache/gradcam/``.
    compute : bool
        With False, only read the cache: return None unless every map is cached (a file read,
        no model is loaded; the inspector uses it on every sample change).

    Returns
    -------
    Explanations or None
        None only with ``compute=False`` and a map missing from the cache.

    Raises
    ------
    UnknownSampleError
        For ids not in the store.
    UnsupportedModelError
        When no spatial feature layer can be found (pass ``layer=``).
    ErrorAnalysisError
        When the run's model cannot be loaded (see :func:`erroranalysis.register_model`).
    """
    from erroranalysis.errors import UnknownSampleError

    run_obj = store.run(run) if run is None or isinstance(run, str) else run
    ids = [sample_ids] if isinstance(sample_ids, str) else [str(s) for s in sample_ids]
    positions = store.sample_ids.get_indexer(ids)
    unknown = [sid for sid, p in zip(ids, positions, strict=True) if p < 0]
    if unknown:
        raise UnknownSampleError(f"no samples with ids {describe(unknown)} in {store.path}")
    probs = run_obj.probs
    predicted = np.asarray(probs[positions]).argmax(1) if len(ids) else np.zeros(0, int)
    current = np.asarray(store.label_codes())[positions]
    folds = _folds(run_obj, positions)

    settings = f"{_CACHE_FORMAT}|{layer}|{min_grid}"
    folder = run_obj.cache_dir / "gradcam"
    results: dict[int, dict[str, Any]] = {}
    todo: list[int] = []
    for i, sid in enumerate(ids):
        wanted = {int(predicted[i])} | ({int(current[i])} if current[i] >= 0 else set())
        cached = _read_cache(folder, sid, settings) if cache else None
        if cached is not None and wanted <= set(cached["maps"]):
            results[i] = cached
        else:
            todo.append(i)

    if todo and not compute:
        return None
    by_fold: dict[int | None, list[int]] = {}
    for i in todo:
        by_fold.setdefault(folds[i], []).append(i)
    for fold, members in by_fold.items():
        from erroranalysis.ingest.run_model import load_run_model

        module, transform, source = load_run_model(store, run_obj, fold)
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            tensors, views = _inputs(store, [ids[i] for i in chunk], module, transform, source)
            targets = [
                sorted({int(predicted[i])} | ({int(current[i])} if current[i] >= 0 else set()))
                for i in chunk
            ]
            maps, layer_name = _grad_cam(module, tensors, targets, layer, min_grid)
            for j, i in enumerate(chunk):
                entry = {"image": views[j], "maps": maps[j], "layer": layer_name}
                results[i] = entry
                if cache:
                    _write_cache(folder, ids[i], settings, entry)

    classes = store.classes
    n = len(ids)
    shape = results[0]["image"].shape[:2] if n else (0, 0)
    images = np.zeros((n, *shape, 3), dtype=np.uint8)
    predicted_maps = np.full((n, *shape), np.nan, dtype=np.float32)
    given_maps = np.full((n, *shape), np.nan, dtype=np.float32)
    for i in range(n):
        entry = results[i]
        images[i] = entry["image"]
        predicted_maps[i] = entry["maps"][int(predicted[i])]
        if current[i] >= 0:
            given_maps[i] = entry["maps"][int(current[i])]
    return Explanations(
        sample_ids=ids,
        predicted=[classes[int(c)] for c in predicted],
        given=[classes[int(c)] if c >= 0 else None for c in current],
        predicted_maps=predicted_maps,
        given_maps=given_maps,
        images=images,
        layers=[results[i]["layer"] for i in range(n)],
        folds=list(folds),
    )


# -- which model explains which sample -----------------------------------------------------------


def _folds(run: Run, positions: np.ndarray) -> list[int | None]:
    from erroranalysis.ingest.run_model import model_source

    source = model_source(run) or {}
    if source.get("kind") != "cross_val":
        return [None] * len(positions)
    folds = run.load_result("folds")
    if folds is None:
        raise ErrorAnalysisError(
            f"cross-validated run {run.name!r} has no fold assignment (result 'folds')"
        )
    assignment = folds["fold"].to_numpy()
    return [int(assignment[p]) for p in positions]


# -- preprocessing -------------------------------------------------------------------------------


def _inputs(
    store: Store, ids: list[str], module: Any, transform: Any, source: dict[str, Any]
) -> tuple[torch.Tensor, list[np.ndarray]]:
    """The model's input batch and, per image, what it shows (uint8 RGB at the input size)."""
    import torch
    from PIL import Image

    from erroranalysis.ingest._torch_data import load_rgb

    images = [load_rgb(store.image_path(sid)) for sid in ids]
    if source.get("kind") == "cross_val":
        # The same preprocessing as cross_val_predict: bilinear resize, the model's mean/std.
        from erroranalysis.ingest.cross_val import _normalisation

        size = int(source["image_size"])
        arrays = []
        for image in images:
            if (image.height, image.width) != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            arrays.append(np.asarray(image, dtype=np.uint8).copy())
        mean, std = _normalisation(module)
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
        return (batch - mean) / std, arrays
    if transform is None:
        from timm.data import create_transform, resolve_model_data_config

        transform = create_transform(**resolve_model_data_config(module), is_training=False)
    batch = torch.stack([transform(image) for image in images])
    mean, std = _mean_std(transform)
    views = []
    for k, image in enumerate(images):
        if mean is not None:
            pixels = batch[k].permute(1, 2, 0).numpy() * std + mean
            views.append(np.clip(pixels * 255 + 0.5, 0, 255).astype(np.uint8))
        else:  # an unknown transform: show the image resized to the input grid (approximate)
            resized = image.resize((batch.shape[-1], batch.shape[-2]), Image.Resampling.BILINEAR)
            views.append(np.asarray(resized, dtype=np.uint8).copy())
    return batch, views


def _mean_std(transform: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The Normalize step's mean and std of a torchvision Compose (None if there is none)."""
    steps = getattr(transform, "transforms", [transform])
    for step in steps:
        if type(step).__name__ == "Normalize":
            return np.asarray(step.mean, dtype=np.float32), np.asarray(step.std, dtype=np.float32)
    return None, None


# -- the target layer ----------------------------------------------------------------------------


def _target_layer(
    module: Any, input_hw: tuple[int, int], layer: str | None, min_grid: int
) -> tuple[Any, str]:
    import torch

    if layer is not None:
        try:
            return module.get_submodule(layer), layer
        except AttributeError as error:
            raise UnsupportedModelError(
                f"{type(module).__name__} has no layer {layer!r}; see model.named_modules()"
            ) from error
    blocks = getattr(module, "blocks", None)
    if hasattr(module, "patch_embed") and blocks is not None and len(blocks):
        last = blocks[-1]
        if hasattr(last, "norm1"):
            index = len(blocks) - 1
            return last.norm1, f"blocks.{index}.norm1"
    info = getattr(module, "feature_info", None)
    if info is not None:
        entries = info if isinstance(info, list) else getattr(info, "info", [])
        chosen = None
        short = min(input_hw)
        for entry in entries:
            reduction = max(1, int(entry.get("reduction", 1)))
            if chosen is None or short // reduction >= min_grid:
                chosen = entry
        if chosen is not None:
            name = chosen["module"]
            for candidate in (name, name.replace("_", ".")):
                with contextlib.suppress(AttributeError):
                    return module.get_submodule(candidate), candidate
    convs = [(n, m) for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)]
    if convs:
        return convs[-1][1], convs[-1][0]
    raise UnsupportedModelError(
        f"cannot explain a {type(module).__name__}: it has no convolutional stage, no timm "
        "feature_info and no patch-token blocks (patch_embed + blocks), so there is no spatial "
        "feature map for Grad-CAM; pass layer='<name>' of a layer whose output is a "
        "(batch, channels, height, width) feature map or (batch, tokens, channels) patch tokens"
    )


def _reshape(module: Any, input_hw: tuple[int, int]) -> Any:
    """pytorch-grad-cam's reshape_transform: tokens or NHWC to NCHW on the actual patch grid."""
    prefix = int(getattr(module, "num_prefix_tokens", 0) or 0)
    nhwc = str(getattr(module, "output_fmt", "NCHW")).upper() == "NHWC"
    patch = getattr(getattr(module, "patch_embed", None), "patch_size", None)

    def transform(tensor: Any) -> Any:
        if tensor.ndim == 4:
            return tensor.permute(0, 3, 1, 2) if nhwc else tensor
        if tensor.ndim != 3:
            raise UnsupportedModelError(
                f"the target layer's output has shape {tuple(tensor.shape)}; Grad-CAM needs a "
                "(batch, channels, height, width) map or (batch, tokens, channels) tokens"
            )
        tokens = tensor[:, prefix:, :]
        count = tokens.shape[1]
        if patch is not None:
            ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
            grid = (-(-input_hw[0] // ph), -(-input_hw[1] // pw))
            if grid[0] * grid[1] != count:
                grid = (input_hw[0] // ph, input_hw[1] // pw)
        else:
            side = round(count**0.5)
            grid = (side, side)
        if grid[0] * grid[1] != count:
            raise UnsupportedModelError(
                f"{count} patch tokens (after dropping {prefix} prefix tokens) do not fill a "
                f"{grid[0]}×{grid[1]} patch grid for a {input_hw[0]}×{input_hw[1]} input; pass "
                "layer= a layer with a spatial output"
            )
        batch, _, channels = tokens.shape
        return tokens.reshape(batch, grid[0], grid[1], channels).permute(0, 3, 1, 2)

    return transform


@contextlib.contextmanager
def _gradient_from(module: Any, target: Any):
    """Freeze the parameters and make the target layer's output the start of the backward pass."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)

    def hook(_layer: Any, _inputs: Any, output: Any) -> Any:
        if hasattr(output, "requires_grad_") and output.is_floating_point():
            # `* 1.0` makes a non-leaf, so in-place ops after the layer stay allowed.
            return output.detach().requires_grad_(True) * 1.0
        return None

    handle = target.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def _grad_cam(
    module: Any, batch: torch.Tensor, targets: list[list[int]], layer: str | None, min_grid: int
) -> tuple[list[dict[int, np.ndarray]], str]:
    """Grad-CAM maps (input resolution, [0, 1]) for each image's target classes."""
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError as error:
        raise ImportError(
            "Grad-CAM needs the optional grad-cam package: pip install 'erroranalysis[gradcam]'"
        ) from error

    input_hw = (int(batch.shape[-2]), int(batch.shape[-1]))
    target_layer, layer_name = _target_layer(module, input_hw, layer, min_grid)
    rows = [k for k, classes in enumerate(targets) for _ in classes]
    wanted = [c for classes in targets for c in classes]
    repeated = batch[rows]
    was_training = module.training
    module.eval()
    try:
        with _gradient_from(module, target_layer):
            cam = GradCAM(module, [target_layer], reshape_transform=_reshape(module, input_hw))
            try:
                maps = cam(repeated, [ClassifierOutputTarget(c) for c in wanted])
            finally:
                cam.activations_and_grads.release()
    finally:
        module.train(was_training)
    out: list[dict[int, np.ndarray]] = [{} for _ in targets]
    for k, (row, code) in enumerate(zip(rows, wanted, strict=True)):
        out[row][code] = np.asarray(maps[k], dtype=np.float32)
    return out, layer_name


# -- cache ---------------------------------------------------------------------------------------


def _cache_path(folder: Any, sample_id: str, settings: str) -> Any:
    digest = hashlib.blake2b(f"{settings}|{sample_id}".encode(), digest_size=12).hexdigest()
    return folder / f"{digest}.npz"


def _read_cache(folder: Any, sample_id: str, settings: str) -> dict[str, Any] | None:
    path = _cache_path(folder, sample_id, settings)
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            maps = {
                int(key[4:]): data[key].astype(np.float32) / 255.0
                for key in data.files
                if key.startswith("map_")
            }
            return {"image": data["image"], "maps": maps, "layer": str(data["layer"])}
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache file is recomputed


def _write_cache(folder: Any, sample_id: str, settings: str, entry: dict[str, Any]) -> None:
    from erroranalysis.store._atomic import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    path = _cache_path(folder, sample_id, settings)
    previous = _read_cache(folder, sample_id, settings)
    maps = dict(previous["maps"]) if previous else {}
    maps.update(entry["maps"])
    arrays = {f"map_{k}": np.clip(v * 255 + 0.5, 0, 255).astype(np.uint8) for k, v in maps.items()}

    def write(temporary: Any) -> None:
        with open(temporary, "wb") as handle:
            np.savez(handle, image=entry["image"], layer=np.array(entry["layer"]), **arrays)

    write_atomic(path, write)
    entry["maps"] = {
        int(key[4:]): value.astype(np.float32) / 255.0 for key, value in arrays.items()
    }
