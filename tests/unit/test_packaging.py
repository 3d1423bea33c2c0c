"""The shape of the project: entry point, lazy imports, compose file, pins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from typer.testing import CliRunner

from rag import __version__
from rag.cli.main import app
from tests.conftest import REPO_ROOT

HEAVY = ("torch", "open_clip", "faster_whisper", "sentence_transformers", "transformers", "zeep")


def test_cli_import_is_light() -> None:
    code = (
        "import sys, rag.cli.main; "
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by the CLI: {out.stdout}"


def test_help_and_version() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("version", "models", "serve"):
        assert command in result.output
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_unknown_model_kind_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["models", "--kind", "sonar"])
    assert result.exit_code == 2
    assert "sonar" in result.output


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    import check_jsonschema.builtin_schemas.vendor as vendor

    schema_path = Path(vendor.__file__).parent / "compose-spec.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(_compose(), schema)


def test_compose_has_the_distributed_shape() -> None:
    services = _compose()["services"]
    assert set(services) >= {"api", "worker", "redis", "qdrant"}
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:")
    assert services["redis"]["image"].startswith("redis:")
    for name in ("api", "redis", "qdrant"):
        assert "healthcheck" in services[name], name
    for name in ("api", "worker"):
        assert services[name]["volumes"], name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_compose_environment_names_real_settings() -> None:
    env_example = (REPO_ROOT / ".env.example").read_text()
    known = set(re.findall(r"(MMRAG_[A-Z0-9_]+)=", env_example))
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\b(MMRAG_[A-Z0-9_]+)\b", text))
    assert used, "compose wires no settings"
    assert used <= known, sorted(used - known)


def test_runtime_dependencies_are_pinned_and_locked() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    constraints = (REPO_ROOT / "constraints.txt").read_text().lower()
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = requirement.split(";")[0].strip()  # an environment marker may follow
        assert "==" in requirement, f"{requirement} is not pinned"
        name, version = requirement.split("==")
        name = re.sub(r"\[.*\]", "", name).lower().replace("_", "-")
        assert f"{name}=={version}" in constraints.replace("_", "-"), f"{requirement} not in lock"
    assert "torch==2.14.1" in constraints
    assert "torchvision==0.29.1" in constraints
