"""Install a one-module plugin distribution into a folder on PYTHONPATH.

This is a real installed distribution as importlib.metadata sees it
(dist-info with entry_points.txt), written without pip so that tests can
install plugins that are broken on purpose.
"""

from __future__ import annotations

from pathlib import Path


def install_plugin(site: Path, name: str, source: str, version: str = "1.0") -> Path:
    site.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    dist = site / f"{module}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[recorder]\n{name} = {module}\n", encoding="utf-8")
    return site
