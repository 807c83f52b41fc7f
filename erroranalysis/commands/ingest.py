"""``erroranalysis ingest``: create a store from an image folder or a manifest, optionally with a
run of predictions (from a file, or by running a timm model).

All or nothing: if an image, the predictions or the model fail, no store is left behind.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from erroranalysis.errors import ErrorAnalysisError, ShapeMismatchError, describe

HELP = "create a store from a class-per-folder tree or a manifest (+ optional predictions)"
DESCRIPTION = (
    "Create a store from a class-per-folder image tree (--folder) or a CSV/TSV/Parquet manifest "
    "with columns path,label[,sample_id,split,...] (--manifest with --image-root). Every image is "
    "checked first; a bad image fails the whole ingest unless --skip-bad. Optionally add a run "
    "from a predictions file (--predictions: .npy N×K in sample order, or .parquet/.csv with "
    "sample_id and one column per class) or by running a timm model (--model)."
)

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "load_predictions", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``ingest`` verb's arguments."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", help="image tree: one sub-folder per class")
    source.add_argument("--manifest", help="CSV/TSV/Parquet file with columns path,label[,...]")
    parser.add_argument("--image-root", help="folder the manifest's paths are relative to")
    parser.add_argument(
        "--unlabelled-folder",
        help="with --folder: a sub-folder whose images have no label yet (e.g. unlabelled)",
    )
    parser.add_argument("--out", required=True, help="the store folder to create")
    parser.add_argument("--classes", help="comma-separated class names in probability-column order")
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave unreadable images out (listed in <store>/skipped.csv) instead of failing",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store")
    predictions = parser.add_mutually_exclusive_group()
    predictions.add_argument(
        "--predictions",
        help="probabilities: .npy (N×K, rows in sample order) or .parquet/.csv (sample_id + "
        "one column per class)",
    )
    predictions.add_argument(
        "--model", help="timm model name to run over the images (see --pretrained)"
    )
    parser.add_argument(
        "--embeddings", help="embeddings .npy (N×D, rows in sample order) for --predictions"
    )
    parser.add_argument(
        "--normalize",
        choices=["none", "sum", "softmax"],
        default="none",
        help="--predictions are not probabilities: divide rows by their sum, or softmax logits",
    )
    parser.add_argument(
        "--in-sample",
        action="store_true",
        help="the --predictions come from a model trained on these samples (label issues are "
        "then marked unreliable)",
    )
    parser.add_argument("--run", help="run name (default: the predictions file name or model)")
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="with --model: load timm's pretrained weights (must be downloadable or cached)",
    )
    parser.add_argument("--checkpoint", help="with --model: a state_dict file to load")
    parser.add_argument("--image-size", type=int, help="with --model: input size in pixels")
    parser.add_argument("--batch-size", type=int, default=64, help="with --model: batch size")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix == ".csv":
            return pd.read_csv(path, dtype={"sample_id": str})
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t", dtype={"sample_id": str})
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise ErrorAnalysisError(f"cannot read predictions {path}: {error}") from None
    raise ErrorAnalysisError(
        f"predictions {path}: unknown file type {suffix!r}; use .npy, .parquet or .csv"
    )


def load_predictions(path: str | Path) -> np.ndarray | pd.DataFrame:
    """Read a predictions file.

    Parameters
    ----------
    path : path-like
        ``.npy`` (an N×K array, rows in sample order) or ``.parquet``/``.csv``/``.tsv`` with a
        ``sample_id`` column and one column per class.

    Returns
    -------
    ndarray or DataFrame
        The array, or a DataFrame indexed by ``sample_id`` with one column per class.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ErrorAnalysisError(f"cannot read predictions {path}: {error}") from None
        if array.ndim != 2:
            raise ShapeMismatchError(
                f"predictions {path} must be a 2-D N×K array; got shape {array.shape}"
            )
        return array
    table = _read_table(path)
    if "sample_id" not in table.columns:
        raise ErrorAnalysisError(
            f"predictions {path} need a 'sample_id' column and one column per class; got "
            f"columns {describe(list(table.columns), 8)}"
        )
    return table.set_index("sample_id")


def _align_rows(
    array: np.ndarray, original_ids: list[str], kept_ids: list[str], what: str
) -> np.ndarray:
    """Rows of a sample-ordered array for the kept samples (some may have been skipped)."""
    if len(array) == len(kept_ids) or len(original_ids) == len(kept_ids):
        return array
    if len(array) == len(original_ids):
        position = {sample_id: i for i, sample_id in enumerate(original_ids)}
        return array[[position[sample_id] for sample_id in kept_ids]]
    raise ShapeMismatchError(
        f"{what} has {len(array)} rows; expected {len(original_ids)} (one per listed image, in "
        f"order) or {len(kept_ids)} (one per ingested image)"
    )


def run(args: argparse.Namespace) -> int:
    """Create the store (and its run); on any failure remove what was created."""
    from erroranalysis.ingest.folder import folder_samples
    from erroranalysis.ingest.manifest import (
        create_checked_store,
        manifest_samples,
        read_manifest,
        remove_created_store,
    )

    progress = not args.quiet
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    if args.manifest and not args.image_root:
        raise ErrorAnalysisError("--manifest needs --image-root (the folder its paths are in)")
    if args.folder and args.image_root:
        raise ErrorAnalysisError("--image-root is for --manifest; --folder is its own root")
    for flag, value in (("--embeddings", args.embeddings), ("--normalize", args.normalize != "none"),
                        ("--in-sample", args.in_sample)):  # fmt: skip
        if value and not args.predictions:
            raise ErrorAnalysisError(f"{flag} goes with --predictions")
    for flag, value in (("--pretrained", args.pretrained), ("--checkpoint", args.checkpoint),
                        ("--image-size", args.image_size)):  # fmt: skip
        if value and not args.model:
            raise ErrorAnalysisError(f"{flag} goes with --model")

    # Read everything that can fail cheaply before touching the disk.
    predictions = load_predictions(args.predictions) if args.predictions else None
    embeddings = None
    if args.embeddings:
        embeddings = load_predictions(args.embeddings)
        if not isinstance(embeddings, np.ndarray):
            raise ErrorAnalysisError("--embeddings must be a .npy N×D array in sample order")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint {args.checkpoint} does not exist")
    if args.folder:
        samples, classes = folder_samples(args.folder, classes, args.unlabelled_folder)
        image_root = Path(args.folder)
        if samples.empty:
            raise ErrorAnalysisError(f"{args.folder} has class folders but no images in them")
    else:
        image_root = Path(args.image_root)
        if not image_root.is_dir():
            raise NotADirectoryError(f"image root {image_root} is not a folder")
        table = read_manifest(args.manifest)
        samples = manifest_samples(
            table, image_root, classes, source=f"manifest {args.manifest}", first_line=2
        )
    original_ids = samples["sample_id"].astype(str).tolist()

    with warnings.catch_warnings():
        # the skipped images are reported below, in one line
        warnings.filterwarnings("ignore", message=r".*images? cannot be read", category=UserWarning)
        store = create_checked_store(
            samples,
            image_root,
            args.out,
            classes=classes,
            skip_bad=args.skip_bad,
            overwrite=args.overwrite,
            progress=progress,
        )
    try:
        kept_ids = [str(s) for s in store.sample_ids]
        run_obj = None
        if predictions is not None:
            if isinstance(predictions, np.ndarray):
                predictions = _align_rows(predictions, original_ids, kept_ids, "--predictions")
            else:
                predictions = predictions.loc[predictions.index.isin(set(kept_ids))]
            if embeddings is not None:
                embeddings = _align_rows(embeddings, original_ids, kept_ids, "--embeddings")
            normalize: Any = {"none": False, "sum": True, "softmax": "softmax"}[args.normalize]
            name = args.run or Path(args.predictions).stem
            run_obj = store.add_run(
                name,
                predictions,
                embeddings=embeddings,
                out_of_sample=not args.in_sample,
                normalize=normalize,
                model=None,
                parameters={"source": str(Path(args.predictions).resolve())},
            )
        elif args.model:
            run_obj = _predict_with_model(store, args, progress)
    except BaseException:
        remove_created_store(store)
        raise
    print(
        f"created store {store.path} with {store.num_samples} samples, {store.num_classes} classes"
    )
    skipped = store.path / "skipped.csv"
    if skipped.exists():
        count = len(pd.read_csv(skipped))
        print(f"skipped {count} unreadable image(s); see {skipped}")
    if run_obj is not None:
        print(f"added run {run_obj.name!r}; next: erroranalysis scan {store.path}")
    return 0


def _predict_with_model(store, args: argparse.Namespace, progress: bool):
    from erroranalysis.ingest.predict import predict

    model: Any = args.model
    if args.checkpoint:
        import timm
        import torch

        try:
            model = timm.create_model(args.model, pretrained=False, num_classes=store.num_classes)
        except RuntimeError as error:  # timm: unknown model
            raise ErrorAnalysisError(f"--model {args.model!r}: {error}") from None
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise ErrorAnalysisError(
                f"checkpoint {args.checkpoint} does not fit {args.model} with "
                f"{store.num_classes} classes: {first}"
            ) from None
    return predict(
        store,
        model,
        run=args.run,
        batch_size=args.batch_size,
        image_size=args.image_size,
        progress=progress,
        pretrained=args.pretrained,
    )
