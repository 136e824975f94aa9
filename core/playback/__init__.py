"""Playing a recorded session back: its timeline, the replay page, export to one file."""
