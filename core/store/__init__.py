"""Where sessions and state are kept on disk: private files, state files, the catalog,
saving to another folder, verifying a folder."""
