"""The source root `operator/` must never shadow the standard library's `operator` module."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_operator_is_still_the_standard_library() -> None:
    import operator

    assert operator.itemgetter(1)([10, 20]) == 20
    assert not (ROOT / "operator" / "__init__.py").exists()


def test_operator_from_the_repository_root_is_the_standard_library() -> None:
    # Run from the repository root, where a package named `operator` would be found first.
    code = "import operator, smc_operator; print(operator.itemgetter.__module__)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "operator"


def test_package_is_importable_and_documents_its_layers() -> None:
    package = importlib.import_module("smc_operator")
    assert package.__doc__ and "handlers" in package.__doc__


def test_the_production_package_needs_no_test_fake() -> None:
    import tomllib

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in dependencies if d.startswith(("kmock", "smc-operator-testbed"))]
    code = (
        "import sys, smc_operator.cli, smc_operator.handlers; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('kmock', 'smc_testbed')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["demo", "emulator"])
def test_without_the_testbed_demo_and_emulator_say_what_to_install(command: str) -> None:
    code = (
        "import sys; sys.modules['smc_testbed'] = None; "
        f"from smc_operator.cli import main; sys.exit(main([{command!r}]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"smc-operator {command}: needs the testbed, which production installs leave out: "
        "pip install ./testbed from a clone of the repository (scripts/demo does that)"
    ]
