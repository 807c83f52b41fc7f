"""Which model produced a run, and how to get it back (for Grad-CAM and other model-based views).

A run records its model in ``run.json`` under ``parameters["model_source"]``:

``{"kind": "timm", "name", "pretrained", "model_kwargs", "data_config"}``
    :func:`erroranalysis.predict` with a timm name. Re-created with the same seed, so randomly
    initialised weights come back identical; ``model_kwargs["checkpoint_path"]`` loads weights.
``{"kind": "object", "class"}``
    :func:`erroranalysis.predict` with a module object. It is registered for this Python session
    automatically; in another session register it again with :func:`register_model`.
``{"kind": "cross_val", "name", "model_kwargs", "image_size", "folds", "checkpoints"}``
    :func:`erroranalysis.cross_val_predict`. Each fold's weights are saved in the run folder
    (``models/fold-<k>.pt``, float16), and a sample is explained by the fold model that did *not*
    train on it: the honest, out-of-sample explanation of the probabilities the run holds.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erroranalysis.errors import ErrorAnalysisError

if TYPE_CHECKING:
    import torch

    from erroranalysis.store import Run, Store

__all__ = ["load_run_model", "register_model"]

# (store path, run name) -> (module, transform); models registered in this Python session.
_SESSION: dict[tuple[str, str], tuple[Any, Any]] = {}
# Loaded models, most recently used last (fold models of cross-validated runs, timm models).
_LOADED: OrderedDict[tuple[str, float, int], Any] = OrderedDict()
_LOADED_MAX = 6


def _key(store: Store, run: str) -> tuple[str, str]:
    return (os.fspath(Path(store.path).resolve()), str(run))


def register_model(store: Store, run: str, model: Any, transform: Any = None) -> None:
    """Register the model object that produced ``run`` for this Python session.

    Parameters
    ----------
    store : Store
    run : str
        The run name.
    model : torch.nn.Module
        The model; Grad-CAM runs it on the run's images.
    transform : callable, optional
        Preprocessing of one RGB ``PIL.Image`` into a ``(3, H, W)`` float tensor; default: timm's
        eval transform for the model.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ErrorAnalysisError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    store.run(run)  # fails clearly on an unknown run
    _SESSION[_key(store, run)] = (model, transform)


def describe_timm(
    name: str, pretrained: bool, model_kwargs: dict[str, Any] | None, data_config: dict[str, Any]
) -> dict[str, Any]:
    """``model_source`` of a run predicted with a timm model name."""
    kwargs = {
        k: (os.fspath(v) if isinstance(v, os.PathLike) else v)
        for k, v in (model_kwargs or {}).items()
    }
    return {
        "kind": "timm",
        "name": name,
        "pretrained": bool(pretrained),
        "model_kwargs": kwargs,
        "data_config": data_config,
    }


def portable_state(model: torch.nn.Module) -> dict[str, Any]:
    """The model's weights as CPU tensors, floating ones in float16 (half the disk)."""
    return {
        key: (value.detach().cpu().half() if value.is_floating_point() else value.detach().cpu())
        for key, value in model.state_dict().items()
    }


def save_fold_models(run: Run, states: list[dict[str, Any]]) -> list[str]:
    """Write each fold's weights to ``<run>/models/fold-<k>.pt`` (atomically); relative paths."""
    import torch

    from erroranalysis.store._atomic import write_atomic

    folder = run.path / "models"
    folder.mkdir(exist_ok=True)
    names = []
    for fold, state in enumerate(states):
        target = folder / f"fold-{fold}.pt"
        write_atomic(target, lambda temporary, state=state: torch.save(state, temporary))
        names.append(f"models/fold-{fold}.pt")
    return names


def model_source(run: Run) -> dict[str, Any] | None:
    return (run.info.get("parameters") or {}).get("model_source")


def load_run_model(store: Store, run: Run, fold: int | None = None) -> tuple[Any, Any, dict]:
    """The model (eval mode, CPU) that produced ``run`` (fold ``fold`` of a cross-validated run).

    Returns
    -------
    (module, transform, source)
        ``transform`` is None for cross-validated runs (their preprocessing is a plain resize to
        ``source["image_size"]`` and the model's own normalisation).

    Raises
    ------
    ErrorAnalysisError
        When the run does not say what made it, or its model object is not registered.
    """
    source = model_source(run)
    registered = _SESSION.get(_key(store, run.name))
    if registered is not None:
        return registered[0], registered[1], source or {"kind": "object"}
    if source is None:
        raise ErrorAnalysisError(
            f"run {run.name!r} does not record the model that produced it (it was added with "
            "store.add_run or by an older version); register the model for this session with "
            f"ea.register_model(store, {run.name!r}, model)"
        )
    kind = source.get("kind")
    if kind == "object":
        raise ErrorAnalysisError(
            f"run {run.name!r} was made by a {source.get('class', 'model')} object in another "
            f"Python session; register it again with ea.register_model(store, {run.name!r}, model)"
        )
    if kind == "cross_val" and fold is None:
        raise ErrorAnalysisError(f"run {run.name!r} is cross-validated: say which fold's model")
    key = (os.fspath(run.path), float(run.info.get("created", 0.0)), -1 if fold is None else fold)
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key][0], _LOADED[key][1], source
    module, transform = _build(store, run, source, fold)
    _LOADED[key] = (module, transform)
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)
    return module, transform, source


def _create(name: str, pretrained: bool, num_classes: int, kwargs: dict[str, Any]) -> Any:
    import timm
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # as ea.predict does: the same name gives the same random weights
        return timm.create_model(name, pretrained=pretrained, num_classes=num_classes, **kwargs)


def _build(store: Store, run: Run, source: dict[str, Any], fold: int | None) -> tuple[Any, Any]:
    import torch

    kind = source.get("kind")
    if kind == "timm":
        from timm.data import create_transform

        module = _create(
            source["name"], source.get("pretrained", False), store.num_classes,
            dict(source.get("model_kwargs") or {}),
        )  # fmt: skip
        config = dict(source.get("data_config") or {})
        if "input_size" in config:
            config["input_size"] = tuple(config["input_size"])
        for key in ("mean", "std"):
            if key in config:
                config[key] = tuple(config[key])
        return module.eval(), create_transform(**config, is_training=False)
    if kind == "cross_val":
        checkpoints = source.get("checkpoints") or []
        if not 0 <= int(fold) < len(checkpoints):
            raise ErrorAnalysisError(
                f"run {run.name!r} kept no model for fold {fold} (it was made with "
                "save_models=False); rerun ea.cross_val_predict with save_models=True"
            )
        path = run.path / checkpoints[int(fold)]
        module = _create(
            source["name"], False, store.num_classes, dict(source.get("model_kwargs") or {})
        )
        state = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(
            {
                key: value.float() if value.is_floating_point() else value
                for key, value in state.items()
            }
        )
        return module.eval(), None
    raise ErrorAnalysisError(f"run {run.name!r} records an unknown model kind {kind!r}")
