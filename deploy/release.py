"""`closecall release X.Y.Z` in a checkout (docs/OPERATIONS.md "Releases"): the CHANGELOG's
"Unreleased" section becomes "X.Y.Z — <date>", pyproject.toml's version becomes X.Y.Z, one
commit "release X.Y.Z" and an annotated tag vX.Y.Z; then the image `closecall:X.Y.Z` is built
from deploy/Dockerfile where a Docker engine is (else the command is printed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
UNRELEASED = "## Unreleased\n"
PROJECT_VERSION = re.compile(r'^version = "[^"]*"$', re.MULTILINE)


class ReleaseError(RuntimeError):
    """Why no release was made, and what to do."""


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def release(root: Path, version: str, today: date) -> list[str]:
    """Cut release `version` in the checkout at `root`; returns what it did, in words."""
    if not SEMVER.fullmatch(version):
        raise ReleaseError(f"{version!r} is not a semantic version MAJOR.MINOR.PATCH")
    if git(root, "status", "--porcelain"):
        raise ReleaseError("the checkout has uncommitted changes: commit or stash them first")
    tag = f"v{version}"
    if tag in git(root, "tag", "--list", tag).split():
        raise ReleaseError(f"{tag} exists already: releases are never moved")
    changelog, project = root / "CHANGELOG.md", root / "pyproject.toml"
    text = changelog.read_text()
    if UNRELEASED not in text:
        raise ReleaseError('CHANGELOG.md has no "## Unreleased" section to release')
    changelog.write_text(text.replace(UNRELEASED, f"## {version} — {today.isoformat()}\n", 1))
    project.write_text(PROJECT_VERSION.sub(f'version = "{version}"', project.read_text(), 1))
    git(root, "commit", "--quiet", "-am", f"release {version}")
    git(root, "tag", "-a", tag, "-m", f"closecall-backend {version}")
    build = [
        "docker", "build", "-f", "deploy/Dockerfile", "--build-arg",
        f"CLOSECALL_VERSION={version}", "-t", f"closecall:{version}", ".",
    ]  # fmt: skip
    done = [f"committed 'release {version}' and tagged {tag}"]
    if (
        shutil.which("docker") is not None
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    ):
        subprocess.run(build, cwd=root, check=True)
        done.append(f"built the image closecall:{version}")
    else:
        done.append(f"no Docker engine here: build the image with `{' '.join(build)}`")
    done.append(f"push the tag: git push origin {tag}")
    return done
