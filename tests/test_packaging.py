"""What a build installs: requirements.txt pins setup.cfg's dependencies for .python-version's
Python, as `uv pip compile` writes them, and the package carries every file it reads."""

import configparser
import zipfile
import shutil
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .servers import ROOT

COMPILE = "uv pip compile requirements.in -o requirements.txt"


def pins(path) -> dict[str, str]:
    """Name to pinned version, from a requirements file's `name==version` lines."""
    found = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith((" ", "#")):
            found[canonicalize_name(name)] = version.strip()
    return found


def install_requires() -> list[Requirement]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = setup["options"]["install_requires"].strip().splitlines()
    return [Requirement(line.strip()) for line in lines if line.strip()]


def test_python_version_is_the_one_the_tests_run_on():
    pinned = (ROOT / ".python-version").read_text().strip()
    compiled_for = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["pip"]
    assert pinned == compiled_for["python-version"] == "%d.%d" % sys.version_info[:2]


def test_the_project_itself_is_installed_from_the_pins():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-e ." in lines


def test_every_dependency_is_pinned_within_its_range():
    pinned = pins(ROOT / "requirements.txt")
    for requirement in install_requires():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not pinned; run `{COMPILE}`"
        assert requirement.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} is outside {requirement}; run `{COMPILE}`")


@pytest.mark.slow
def test_pins_are_what_compiling_setup_cfg_gives_now(tmp_path):
    """Compiling again, with today's pins as preferences, changes nothing unless setup.cfg did."""
    uv = pytest.importorskip("uv").find_uv_bin()
    output = tmp_path / "requirements.txt"
    shutil.copy(ROOT / "requirements.txt", output)
    subprocess.run([uv, "pip", "compile", "requirements.in", "-o", output, "--quiet"],
                   cwd=ROOT, check=True, timeout=300)
    assert pins(output) == pins(ROOT / "requirements.txt"), f"pins are stale: run `{COMPILE}`"


@pytest.mark.slow
def test_the_wheel_carries_its_migrations_samples_and_console_files(tmp_path):
    """Without its migration scripts, `receiver db upgrade` would have nothing to run."""
    # From a copy without build leftovers: an old egg-info's file list would hide a gap.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "*.egg-info", "build", "dist", "__pycache__", "instance"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path,
                    source], check=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {path.relative_to(ROOT).as_posix()
               for folder in ("receiver/migrations/versions", "receiver/samples",
                              "receiver/console/templates/console", "receiver/console/static")
               for path in (ROOT / folder).glob("*.*")}
    assert shipped and shipped <= names
