"""``erroranalysis cross-val STORE --model NAME``: out-of-sample predictions by k-fold training."""

from __future__ import annotations

import argparse

from erroranalysis.commands._run_options import (
    add_run_output_arguments,
    check_run_output_arguments,
)

HELP = "out-of-sample predictions: train a timm model per fold, predict the held-out fold"
DESCRIPTION = (
    "Stratified k-fold cross-validation: for each fold a fresh timm model trains on the other "
    "folds and predicts the held-out one, so every sample is scored by a model that never saw "
    "it (what label-issue detection needs). --engine processes trains the folds side by side in "
    "local worker processes, one torch thread each (--workers N; default one per fold, at most "
    "one per core); --engine ray trains them as separate Ray tasks on a cluster (--address "
    "host:6379 or ray://host:10001)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``cross-val`` verb's arguments."""
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument("--model", required=True, help="timm model name, e.g. resnet10t")
    parser.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per fold")
    parser.add_argument("--image-size", type=int, help="train and predict at this size")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--pretrained", action="store_true", help="start from pretrained weights")
    parser.add_argument("--run", help="run name (default: <model>-cv<folds>)")
    parser.add_argument("--random-state", type=int, default=0, help="seed of splits and training")
    parser.add_argument(
        "--labels", choices=["current", "given"], default="current", help="labels to train on"
    )
    parser.add_argument(
        "--embeddings", choices=["first_fold", "full", "none"], default="first_fold"
    )
    parser.add_argument("--device", help="cpu or cuda (local engine; default: a GPU if any)")
    add_run_output_arguments(parser, engine_help="where the folds train", processes=True)


def run(args: argparse.Namespace) -> int:
    from erroranalysis.ingest.cross_val import cross_val_predict
    from erroranalysis.store import Store

    check_run_output_arguments(args)
    store = Store.open(args.store)
    result = cross_val_predict(
        store,
        args.model,
        folds=args.folds,
        epochs=args.epochs,
        image_size=args.image_size,
        batch_size=args.batch_size,
        lr=args.lr,
        pretrained=args.pretrained,
        run=args.run,
        random_state=args.random_state,
        progress=not args.no_progress,
        device=args.device,
        labels=args.labels,
        embeddings=args.embeddings,
        overwrite=args.overwrite,
        engine=args.engine,
        address=args.address,
        workers=args.workers,
    )
    parameters = result.info.get("parameters", {})
    print(
        f"added run {result.name!r} ({parameters.get('engine', 'local')} engine, held-out "
        f"accuracy {parameters.get('accuracy')}, folds {parameters.get('fold_accuracy')}); "
        f"next: erroranalysis scan {store.path} --run {result.name}"
    )
    return 0
