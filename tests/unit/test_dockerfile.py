"""deploy/Dockerfile: multi-stage, slim Python 3.11, non-root, no build tools in the image.

No Docker engine runs on these machines, so the image is never built here; these checks read the
Dockerfile. That its entrypoint and user match the Helm chart is checked against the rendered
chart in tests/integration/test_helm_chart.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

import yaml

from testkit.helm import CHART, DOCKERFILE, ROOT, dockerfile_instructions, final_stage

#: Words that would mean compilers, package managers or installs in the final image.
BUILD_TOOLS = {"gcc", "g++", "cc", "clang", "make", "build-essential", "apt-get", "apt", "pip"}


def test_two_stages_on_a_slim_python_311() -> None:
    instructions = dockerfile_instructions()
    (arg,) = [a for op, a in instructions if op == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(
        r"PYTHON_IMAGE=python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", arg
    )
    froms = [a for op, a in instructions if op == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_the_image_has_no_build_tools_and_only_the_built_environment() -> None:
    image = final_stage(dockerfile_instructions())
    for op, args in image:
        if op == "RUN":
            assert not BUILD_TOOLS & set(re.split(r"[\s;&|]+", args)), args
    copies = [a for op, a in image if op == "COPY"]
    assert copies == ["--from=build /opt/smc-operator /opt/smc-operator"]


def test_the_build_installs_the_pinned_package() -> None:
    instructions = dockerfile_instructions()
    build = instructions[: instructions.index(final_stage(instructions)[0])]
    (install,) = [a for op, a in build if op == "RUN" and "pip install" in a]
    assert "-c constraints.txt ." in install
    assert "--editable" not in install and " -e " not in install


def test_non_root_user_matching_the_chart_defaults() -> None:
    image = final_stage(dockerfile_instructions())
    (user,) = [a for op, a in image if op == "USER"]
    uid, gid = (int(part) for part in user.split(":"))  # numeric, so runAsNonRoot can verify it
    assert uid != 0 and gid != 0
    pod = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (uid, gid)
    assert f"--uid {uid}" in " ".join(a for op, a in image if op == "RUN")


def test_entrypoint_is_the_console_script_smc_operator_run() -> None:
    image = final_stage(dockerfile_instructions())
    (entrypoint,) = [json.loads(a) for op, a in image if op == "ENTRYPOINT"]
    assert entrypoint == ["smc-operator", "run"]
    assert not [a for op, a in image if op == "CMD"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["smc-operator"] == "smc_operator.cli:main"
    env = " ".join(a for op, a in image if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # the root filesystem is read-only
    assert "PATH=/opt/smc-operator/bin:" in env


def test_the_build_context_holds_what_the_build_copies_and_nothing_else() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:  # Docker's rule: the last matching pattern wins
        result = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            bare = pattern.removeprefix("!").rstrip("/")
            if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                result = not negated
        return result

    sources = []
    for op, args in dockerfile_instructions():
        if op == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    for private in (".git", ".venv", "tests", "bench", "deploy"):
        assert ignored(private), f"{private} would be sent to the Docker daemon"
    assert DOCKERFILE.relative_to(ROOT).as_posix() == "deploy/Dockerfile"
