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


def _one_line(message: object) -> str:
    """The message on one line: newlines become spaces, other control characters escapes."""
    text = " ".join(str(message).strip().splitlines())
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line too (exit code 2)."""

    def error(self, message: str):
        self.exit(2, f"error: {_one_line(f'{self.prog}: {message}')} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-command per module in ``erroranalysis.commands``."""
    parser = _Parser(
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
    if argv is not None and any("\x00" in str(arg) for arg in argv):  # no shell can pass one
        print("error: an argument contains a NUL byte", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (ErrorAnalysisError, OSError) as error:  # bad input, or a file that cannot be used
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
