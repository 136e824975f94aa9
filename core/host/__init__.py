"""The plugin host: hook specifications, loading, the registry of components, and the one
place where failures of plugin code are isolated."""
