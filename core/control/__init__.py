"""The control channel: a running recorder's local endpoint for the support tool.

A Unix socket in the user's runtime dir (only its user can open it), or on Windows
an owner-only named pipe with a keyed handshake (``pipe.py``, ``win32_pipe.py``), speaking
JSON lines (``protocol.py``, documented in docs/support-tools.md). ``server``
runs in the recorder; ``channel`` is one recording's use of it, answering the
commands (``commands.py``) and streaming what happens (``status.py``) through a
narrow view of the recording; ``client`` is what the CLI verbs and support tools use.
"""
