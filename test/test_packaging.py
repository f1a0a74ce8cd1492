"""pyproject.toml and the two conda environment files carry the same pins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins(sys_platform: str) -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    pins = {}
    env = {"sys_platform": sys_platform, "python_version": "3.11", "extra": ""}
    for text in reqs:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(env):
            pins[req.name.lower()] = str(req.specifier)
    return pins


def _env_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for text in pip_section:
        if text.startswith("-e"):
            continue
        req = Requirement(text)
        pins[req.name.lower()] = str(req.specifier)
    return pins


def test_every_dependency_is_pinned_exactly() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = [t for texts in data["project"]["optional-dependencies"].values() for t in texts]
    for text in data["project"]["dependencies"] + extras:
        spec = list(Requirement(text).specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{text} is not an exact pin"


@pytest.mark.parametrize(
    ("env_file", "sys_platform"),
    [("environment-linux.yml", "linux"), ("environment-macos.yml", "darwin")],
)
def test_environment_file_matches_pyproject(env_file: str, sys_platform: str) -> None:
    assert _env_pins(ROOT / env_file) == _pyproject_pins(sys_platform)


def test_tensorflow_flavour_per_platform() -> None:
    assert "tensorflow-cpu" in _pyproject_pins("linux")
    assert "tensorflow" in _pyproject_pins("darwin")
    assert "tensorflow-cpu" not in _pyproject_pins("darwin")
