"""CLI verbs, one module each (see erroranalysis.cli)."""
