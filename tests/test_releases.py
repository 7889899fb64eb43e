"""`closecall release X.Y.Z` (deploy/release.py) in a clone of this checkout: the CHANGELOG
section, the version the services then answer at GET /version, one commit and its tag."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from deploy.release import ReleaseError, git, release
from tests.support.stack import ROOT


def test_a_release_is_a_changelog_section_a_version_a_commit_and_a_tag(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    for key, value in (("user.email", "release@closecall.test"), ("user.name", "Release")):
        git(clone, "config", key, value)
    changelog = (clone / "CHANGELOG.md").read_text()
    if "## Unreleased\n" not in changelog:  # this checkout is itself a release commit
        (clone / "CHANGELOG.md").write_text(
            changelog.replace("# Changelog\n", "# Changelog\n\n## Unreleased\n\n- a change\n", 1)
        )
        git(clone, "commit", "--quiet", "-am", "a change")
    with pytest.raises(ReleaseError, match="semantic version"):
        release(clone, "1.0", date(2027, 1, 4))
    done = release(clone, "9.8.7", date(2027, 1, 4))
    assert done[0] == "committed 'release 9.8.7' and tagged v9.8.7"
    assert "## 9.8.7 — 2027-01-04\n" in (clone / "CHANGELOG.md").read_text()
    assert "## Unreleased" not in (clone / "CHANGELOG.md").read_text()
    assert 'version = "9.8.7"' in (clone / "pyproject.toml").read_text()
    assert git(clone, "describe", "--exact-match", "HEAD") == "v9.8.7"
    assert git(clone, "status", "--porcelain") == ""
    with pytest.raises(ReleaseError, match="exists already"):
        release(clone, "9.8.7", date(2027, 1, 5))
    (clone / "README.md").write_text("changed")
    with pytest.raises(ReleaseError, match="uncommitted"):
        release(clone, "9.8.8", date(2027, 1, 5))
