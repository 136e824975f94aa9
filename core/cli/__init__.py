"""The command line: a thin layer over the library API."""

from recorder.cli.main import main

__all__ = ["main"]
