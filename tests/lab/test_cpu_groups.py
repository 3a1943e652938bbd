"""The lab's cpu groups on both cgroup layouts (a fake mount here; the real one in tests/lab/test_lab.py)."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from dialer.lab.cgroups import CpuGroups, group_name


def v1_mount(tmp_path: Path) -> Path:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cgroup.procs").write_text("")
    return tmp_path


def v2_mount(tmp_path: Path, subtree: str = "") -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text(subtree)
    return tmp_path


def test_on_cgroup_v1_the_process_joins_a_cpu_group_with_shares_for_its_weight(tmp_path: Path) -> None:
    group = CpuGroups(v1_mount(tmp_path)).join("dcc-lab-x-pbx", 4242, 300)
    assert group == tmp_path / "cpu" / "dcc-lab-x-pbx"
    assert (group / "cpu.shares").read_text() == "3072"
    assert (group / "cgroup.procs").read_text() == "4242"


def test_on_cgroup_v2_the_cpu_controller_is_turned_on_and_the_weight_written_as_is(tmp_path: Path) -> None:
    group = CpuGroups(v2_mount(tmp_path, "memory pids")).join("dcc-lab-x-phones", 77, 300)
    assert group == tmp_path / "dcc-lab-x-phones"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"
    assert (group / "cpu.weight").read_text() == "300"
    assert (group / "cgroup.procs").read_text() == "77"


def test_cgroup_v2_with_the_controller_already_on_is_left_as_it_is(tmp_path: Path) -> None:
    CpuGroups(v2_mount(tmp_path, "cpu memory")).join("g", 1, 100)
    assert (tmp_path / "cgroup.subtree_control").read_text() == "cpu memory"


def test_without_a_cpu_controller_the_process_runs_on_and_it_is_said_once(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("memory pids\n")
    groups = CpuGroups(tmp_path)
    with capture_logs() as logs:
        assert groups.join("g", 1, 100) is None
        assert groups.join("h", 2, 100) is None
    assert [e["event"] for e in logs] == ["lab.cpu_groups_unavailable"]
    assert "no cpu controller" in logs[0]["reason"]
    assert not (tmp_path / "g").exists()


def test_a_group_that_cannot_be_written_is_given_up_without_failing_the_lab(tmp_path: Path) -> None:
    root = v1_mount(tmp_path)
    (root / "cpu" / "g").write_text("a file where the group would go")
    with capture_logs() as logs:
        assert CpuGroups(root).join("g", 1, 100) is None
    assert logs[0]["event"] == "lab.cpu_groups_unavailable"


def test_remove_deletes_an_empty_group_and_leaves_a_busy_one_with_a_warning(tmp_path: Path) -> None:
    root = v1_mount(tmp_path)
    groups = CpuGroups(root)
    groups.join("empty", 1, 100)
    for name in ("cpu.shares", "cgroup.procs"):  # the kernel's files go with the folder; a fake's do not
        (root / "cpu" / "empty" / name).unlink()
    groups.join("busy", 2, 100)
    with capture_logs() as logs:
        groups.remove("empty")
        groups.remove("busy")
        groups.remove("never-made")
    assert not (root / "cpu" / "empty").exists()
    assert (root / "cpu" / "busy").is_dir()
    assert [e["event"] for e in logs] == ["lab.cpu_group_left"]


def test_group_names_are_one_per_lab_folder_and_role(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert group_name(a, "pbx") == group_name(a, "pbx")
    assert len({group_name(a, "pbx"), group_name(a, "phones"), group_name(b, "pbx")}) == 3
    assert group_name(a, "pbx").startswith("dcc-lab-") and group_name(a, "pbx").endswith("-pbx")
