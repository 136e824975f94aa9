"""Privacy: parts encrypted to the organisation's age recipients, and read back only with a key."""
