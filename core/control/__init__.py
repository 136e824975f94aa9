"""The control channel: a running recorder's local endpoint for the support tool.

A Unix socket in the user's runtime dir (only its user can open it), speaking
JSON lines (``protocol.py``, documented in docs/support-tools.md). ``server``
runs in the recorder; ``client`` is what the CLI verbs and support tools use.
"""
