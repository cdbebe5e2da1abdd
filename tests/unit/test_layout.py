"""The source root `operator/` must never shadow the standard library's `operator` module."""

import importlib
import subprocess
import sys
from pathlib import Path

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
