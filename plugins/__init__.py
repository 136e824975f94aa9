"""Built-in plugins. Each module is an ordinary plugin, registered exactly like a third-party one."""
