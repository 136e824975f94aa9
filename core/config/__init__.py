"""Configuration: TOML layers, typed options, and a profile made concrete."""
