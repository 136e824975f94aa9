"""The data path of one recording: capture and encoder threads, part files, the run from start to seal."""
