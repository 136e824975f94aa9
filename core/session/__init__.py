"""A session and its records: the live object plugins see, session.json, the journal,
the profile lock, and recovery after a crash or a restart."""
