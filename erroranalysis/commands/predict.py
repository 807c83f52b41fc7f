"""``erroranalysis predict STORE --model NAME``: run a timm model over the store's images."""

from __future__ import annotations

import argparse
from pathlib import Path

from erroranalysis.commands._run_options import (
    add_run_output_arguments,
    check_run_output_arguments,
)

HELP = "run a timm model over a store's images and record its predictions as a run"
DESCRIPTION = (
    "Run a timm model (random weights, --pretrained, or --checkpoint) over every image of the "
    "store and record probabilities and embeddings as a run. --engine ray runs it on a Ray "
    "cluster (--address host:6379 or ray://host:10001); the run is the same, and an interrupted "
    "run resumes from its finished chunks or shards."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``predict`` verb's arguments."""
    parser.add_argument("store", help="path of the store folder")
    parser.add_argument("--model", required=True, help="timm model name, e.g. resnet18")
    parser.add_argument("--run", help="run name (default: the model name)")
    parser.add_argument("--pretrained", action="store_true", help="load timm's pretrained weights")
    parser.add_argument("--checkpoint", help="a state_dict file to load into the model")
    parser.add_argument("--image-size", type=int, help="input size in pixels (default: model's)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument(
        "--chunk-size", type=int, default=4096, help="samples per resumable chunk (Ray: shard)"
    )
    parser.add_argument(
        "--num-workers",
        type=int,
        help="local: image-decoding processes; ray: model replicas (default: one per GPU, "
        "else one per 2 CPUs)",
    )
    parser.add_argument("--device", help="cpu or cuda (default: a GPU when there is one)")
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--no-embeddings", action="store_true", help="record probabilities only")
    add_run_output_arguments(parser, engine_help="where the inference runs")


def run(args: argparse.Namespace) -> int:
    from erroranalysis.ingest.predict import predict
    from erroranalysis.store import Store

    check_run_output_arguments(args)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint {args.checkpoint} does not exist")
    store = Store.open(args.store)
    result = predict(
        store,
        args.model,
        run=args.run,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        device=args.device,
        image_size=args.image_size,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        pretrained=args.pretrained,
        model_kwargs={"checkpoint_path": args.checkpoint} if args.checkpoint else None,
        dtype=args.dtype,
        embeddings=not args.no_embeddings,
        engine=args.engine,
        address=args.address,
    )
    parameters = result.info.get("parameters", {})
    speed = parameters.get("images_per_second")
    print(
        f"added run {result.name!r} ({parameters.get('engine', 'local')} engine"
        + (f", {speed} img/s" if speed else "")
        + f"); next: erroranalysis scan {store.path} --run {result.name}"
    )
    return 0
