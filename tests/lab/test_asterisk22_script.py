"""scripts/asterisk22.sh mounts the project into the Asterisk 22 chroot, and mends a stale mount.

CI makes a fresh checkout at the same path for each run, while the chroot (in a cache that outlives
the checkout) still held the bind mount of the previous, deleted one: Asterisk 22 then read no
configuration and never made the lab's control socket, and every PBX test on 22 failed at set-up.

The script runs on a stand-in chroot (an empty tree with an ``asterisk`` file, so nothing is built)
inside a private mount namespace: every mount it makes ends with the namespace, whatever happens to
the test, so nothing is left mounted below a folder that gets removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "asterisk22.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="mounting needs root and unshare (as scripts/asterisk22.sh itself does without sudo)",
)


@pytest.fixture
def project() -> Iterator[Path]:
    # Below /tmp the project is inside the chroot through its /tmp mount and is never mounted on its
    # own, which is not the case under test: /var/tmp is the other place for temporary files.
    folder = Path(tempfile.mkdtemp(prefix="dcc-a22-", dir="/var/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_project_made_again_at_the_same_path_is_mounted_afresh(tmp_path: Path, project: Path) -> None:
    cache = tmp_path / "cache"
    fake_asterisk = cache / "asterisk22" / "usr" / "sbin" / "asterisk"
    fake_asterisk.parent.mkdir(parents=True)
    fake_asterisk.write_text("#!/bin/sh\n")
    fake_asterisk.chmod(0o755)
    (project / "scripts").mkdir()
    shutil.copy(SCRIPT, project / "scripts" / "asterisk22.sh")
    inside = cache / "asterisk22" / str(project).lstrip("/")
    steps = f"""
        set -eu
        bash {project}/scripts/asterisk22.sh
        echo first > {project}/mark
        cat {inside}/mark
        # CI's next checkout: the old folder removed, a new one made at the same path.
        rm -rf {project}
        mkdir -p {project}/scripts
        cp {SCRIPT} {project}/scripts/asterisk22.sh
        echo second > {project}/mark
        cat {inside}/mark 2>/dev/null || echo "(not seen)"
        bash {project}/scripts/asterisk22.sh
        cat {inside}/mark
    """
    run = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", steps],
        env={**os.environ, "DCC_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split()
    wrapper = str(cache / "asterisk22-bin")
    # Each run prints the wrapper's folder; the stale mount showed the deleted folder (no mark), and
    # after the second run the chroot shows the new one.
    assert lines == [wrapper, "first", "(not", "seen)", wrapper, "second"], run.stdout
