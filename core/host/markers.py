"""The two pluggy markers, created once: ``hookspec`` for recorder, ``hookimpl`` for plugins."""

from __future__ import annotations

import pluggy

PROJECT = "recorder"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
