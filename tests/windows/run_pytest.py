"""pytest for the Windows leg, run by the bundle's CPython under Wine (tests/windows/leg.py).

The embeddable CPython ignores PYTHONPATH (its python311._pth decides the path), so
pytest, installed beside the bundle and never in it, is put on the path here.
"""

import os
import sys

sys.path.insert(0, os.environ["RECORDER_WINDOWS_TEST_SITE"])
sys.dont_write_bytecode = True  # nothing written into the checkout

import pytest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# The project's pytest settings apply (pyproject.toml); tests/conftest.py, the Linux
# suite's, does not (--confcutdir).
sys.exit(pytest.main(["--rootdir", os.path.dirname(os.path.dirname(HERE)), "--confcutdir", HERE, *sys.argv[1:]]))
