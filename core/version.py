"""recorder's version: the one place it is written (pyproject.toml reads it from here at build time).

A literal rather than ``importlib.metadata.version()``, which scans every
installed distribution and costs every command about 15 ms of start-up.
"""

__version__ = "0.3.0"
