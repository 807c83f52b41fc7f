"""The ``erroranalysis`` command line.

Each verb lives in its own module under :mod:`erroranalysis.commands` and defines ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Bad input ends with a one-line error and exit
code 2, never a traceback. The CLI never imports the widgets.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from erroranalysis import __version__
from erroranalysis.errors import ErrorAnalysisError

__all__ = ["build_parser", "main"]


def _verbs() -> list[str]:
    """Verb names: the modules of ``erroranalysis.commands``, ``_`` spelled ``-``."""
    import erroranalysis.commands as commands

    return sorted(
        info.name.replace("_", "-")
        for info in pkgutil.iter_modules(commands.__path__)
        if not info.name.startswith("_")
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-command per module in ``erroranalysis.commands``."""
    parser = argparse.ArgumentParser(
        prog="erroranalysis",
        description="Interactive error analysis of image classifiers: store, scan, widgets, hand-off.",
    )
    parser.add_argument("--version", action="version", version=f"erroranalysis {__version__}")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in _verbs():
        module = importlib.import_module(f"erroranalysis.commands.{verb.replace('-', '_')}")
        sub = subparsers.add_parser(
            verb, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP)
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (ErrorAnalysisError, FileNotFoundError, FileExistsError, NotADirectoryError) as error:
        message = str(error).strip().replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
