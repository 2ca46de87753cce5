"""pyproject.toml and environment.yml must list the same dependencies with the same specs."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge package names that differ from PyPI's
CONDA_TO_PYPI = {
    "python-duckdb": "duckdb",
    "ibis-framework-core": "ibis-framework",
    "jupyter_server": "jupyter-server",
}


def _split(req: str) -> tuple[str, str]:
    name, spec = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(.*)$", req.strip()).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = dict(
        _split(r)
        for r in [
            *project["dependencies"],
            *project["optional-dependencies"]["dev"],
            *project["optional-dependencies"]["spark"],
            *project["optional-dependencies"]["bench"],
        ]
    )
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python=", "pip")):
            name, spec = _split(dep)
            conda[CONDA_TO_PYPI.get(name, name).replace("_", "-")] = spec
        elif isinstance(dep, str) and dep.startswith("python="):
            assert dep == "python=3.12"
    assert conda == pip_reqs
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ["-e .[dev,spark,bench]"]


def test_known_good_trio_is_pinned():
    """DESIGN.md: duckdb 2.0 breaks ibis 12; sqlglot >= 30.18 breaks ibis create_table."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "duckdb==1.5.6" in deps
    assert "sqlglot==30.16.0" in deps
    assert "ibis-framework[duckdb]==12.0.0" in deps
