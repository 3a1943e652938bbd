"""CPU groups for the lab's world: the PBX and the phones each weigh as one, as on a dealer's site.

On a site Asterisk and the dialer run as two systemd services: two cgroups the scheduler weighs as
one each, whatever their thread counts; the customers' and agents' phones are other devices. As
plain child processes on one machine, every thread weighs alike instead, and Asterisk runs hundreds
of them: at 200 answers at once on 2 cores the dialer's event loop stood ready but waited for a CPU
9.2 s of a 12.4 s burst (docs/bench.md, agent connect), a wait no site has. So, where permitted
(root, a cgroup v1 ``cpu`` hierarchy or a cgroup v2 tree with the ``cpu`` controller), the lab
starts its PBX and its phones in a group each; elsewhere it runs as before and says so once.

A group's weight is given in cgroup v2 units (``cpu.weight``, default 100); v1's ``cpu.shares``
is 1024 per 100. Groups are named after the lab's folder, so ``lab down`` from another process
finds them, and two labs (two test passes) never share one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from dialer.logs import get_logger

log = get_logger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
_V1_SHARES_PER_WEIGHT = 1024 / 100


@dataclass(slots=True)
class CpuGroups:
    """Creates, fills and removes the lab's cpu groups below ``root`` (the cgroup mount)."""

    root: Path = CGROUP_ROOT
    # Said once per object: a machine without groups stays without them.
    _unavailable: str = field(default="", init=False)

    def join(self, name: str, pid: int, weight: int) -> Path | None:
        """Move every thread of ``pid`` into group ``name`` (created with ``weight``); the group's
        folder, or None where groups cannot be used here (logged once, the process runs on as is)."""
        if self._unavailable:
            return None
        try:
            group, weight_file, value = self._group(name, weight)
            group.mkdir(exist_ok=True)
            (group / weight_file).write_text(value)
            # cgroup.procs moves the whole thread group; threads started later are born inside.
            (group / "cgroup.procs").write_text(str(pid))
        except (OSError, _NoCpuController) as exc:
            self._unavailable = str(exc)
            log.info("lab.cpu_groups_unavailable", reason=self._unavailable)
            return None
        return group

    def remove(self, name: str) -> None:
        """Remove group ``name`` once its processes have ended; one still in use is left and logged."""
        for group in (self.root / "cpu" / name, self.root / name):
            if group.is_dir():
                try:
                    group.rmdir()
                except OSError as exc:
                    log.warning("lab.cpu_group_left", group=str(group), error=str(exc))

    def _group(self, name: str, weight: int) -> tuple[Path, str, str]:
        """The group's folder, its weight file and the weight written there, for this machine's layout."""
        v1 = self.root / "cpu"
        if (v1 / "cgroup.procs").is_file():
            return v1 / name, "cpu.shares", str(round(weight * _V1_SHARES_PER_WEIGHT))
        controllers = self.root / "cgroup.controllers"
        if controllers.is_file() and "cpu" in controllers.read_text().split():
            subtree = self.root / "cgroup.subtree_control"
            if "cpu" not in subtree.read_text().split():
                subtree.write_text("+cpu")
            return self.root / name, "cpu.weight", str(weight)
        raise _NoCpuController(f"no cpu controller under {self.root}")


class _NoCpuController(Exception):
    """Neither a cgroup v1 ``cpu`` hierarchy nor a v2 tree offering ``cpu`` is mounted there."""


def group_name(lab_root: Path, role: str) -> str:
    """The group of one role (``pbx``, ``phones``) of the lab kept in ``lab_root``."""
    digest = hashlib.sha1(str(lab_root.resolve()).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"dcc-lab-{digest}-{role}"
