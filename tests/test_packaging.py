"""The wheel installs one namespace, ``recorder``, and works without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from recorder.testing import decode


def test_wheel_installs_recorder_and_its_plugins_only(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), "."], check=True,
                   cwd=os.path.dirname(os.path.dirname(__file__)))
    [wheel] = (tmp_path / "dist").glob("recorder-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"recorder"}
    assert "recorder/plugins/h264/__init__.py" in names
    assert "recorder/plugins/h264/fmp4.py" in names
    assert "recorder/config/defaults.toml" in names
    # the page and the scripts it is given (the live page's, the search box's): read from the package
    for name in ("replay.html", "live.js", "search.js"):
        assert f"recorder/playback/{name}" in names, name
    assert not any(name.startswith(("core/", "plugins/")) for name in names)

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "RECORDER_", "DISPLAY"))}
    env.update(PYTHONPATH=str(target), HOME=str(home))
    where = subprocess.run([sys.executable, "-c", "import recorder.plugins.mss as m; print(m.__file__)"],
                           env=env, capture_output=True, text=True, check=True, cwd=tmp_path, encoding="utf-8").stdout
    assert where.startswith(str(target))
    subprocess.run([sys.executable, "-m", "recorder", "--profile", "rep", "--source", "synthetic",
                    "--duration", "1"], env=env, check=True, capture_output=True, cwd=tmp_path)
    [folder] = (home / "Documents" / "SessionRecordings").iterdir()
    assert decode(folder / "part-001.mp4").frames == 15
