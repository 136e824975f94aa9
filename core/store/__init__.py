"""Sessions kept on disk: the catalog, saving to another folder (the save workflow),
verifying a folder, and what the last verify found."""
