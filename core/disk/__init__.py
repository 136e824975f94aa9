"""Recorder's own files on disk, below everything that is about sessions: private files
and folders written whole, the state folders and JSON state files, the crash points
inside multi-step writes, and files that live in memory only."""
