"""The command's state file: atomic replacement, locking, damaged files refused untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dualstack._statefile import STATE_KIND, StateFile
from dualstack.errors import DualStackError

ROOT = Path(__file__).resolve().parent.parent


def _run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_statefile_write_then_read_round_trips_with_kind(tmp_path):
    path = tmp_path / "state.json"
    with StateFile(path).locked() as state:
        assert state.read() is None
        state.write({"format": 1, "items": [1, 2, 3]})
        assert state.read() == {"format": 1, "items": [1, 2, 3], "kind": STATE_KIND}
    assert json.loads(path.read_text())["kind"] == STATE_KIND
    assert (tmp_path / "state.json.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def test_statefile_write_keeps_existing_file_mode(tmp_path):
    path = tmp_path / "state.json"
    with StateFile(path).locked() as state:
        state.write({"n": 1})
        path.chmod(0o600)
        state.write({"n": 2})
    assert path.stat().st_mode & 0o777 == 0o600


_DAMAGED = {
    "empty": b"",
    "blank": b" \n",
    "truncated": b'{"kind": "DualStackState", "format": 1, "clu',
    "invalid-json": b"{'kind': 'DualStackState'}",
    "not-utf8": b"\xff\xfe{}",
    "not-state": b'{"hello": "world"}\n',
    "json-list": b"[1, 2, 3]\n",
}


@pytest.mark.parametrize("content", list(_DAMAGED.values()), ids=list(_DAMAGED))
def test_statefile_damaged_file_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with StateFile(path).locked() as state, pytest.raises(DualStackError) as info:
        state.read()
    message = str(info.value)
    assert str(path) in message
    assert " — " in message  # says what would work
    assert path.read_bytes() == content


def test_statefile_truncated_file_message_names_position(tmp_path):
    path = tmp_path / "state.json"
    path.write_bytes(b'{"kind": "DualStackState",\n "format": ')
    with StateFile(path).locked() as state, pytest.raises(DualStackError, match="line 2"):
        state.read()


def test_statefile_failed_replace_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    with StateFile(path).locked() as state:
        state.write({"n": 1})
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with (
        StateFile(path).locked() as state,
        pytest.raises(DualStackError, match="No space left on device"),
    ):
        state.write({"n": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def test_statefile_unwritable_directory_raises_with_hint(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("dualstack._statefile.tempfile.mkstemp", refuse)
    with (
        StateFile(tmp_path / "state.json").locked() as state,
        pytest.raises(DualStackError, match=r"cannot write the state file .*Permission denied"),
    ):
        state.write({"n": 1})
    assert not (tmp_path / "state.json").exists()


def test_statefile_lock_held_elsewhere_times_out_with_message(tmp_path):
    path = tmp_path / "state.json"
    # flock conflicts between two open file descriptions even inside one process.
    with StateFile(path).locked():
        other = StateFile(path, lock_timeout=0.05)
        with pytest.raises(DualStackError, match="holds the lock"), other.locked():
            pass  # pragma: no cover - never reached


def test_statefile_lock_released_after_block(tmp_path):
    path = tmp_path / "state.json"
    with StateFile(path).locked():
        pass
    with StateFile(path, lock_timeout=0.05).locked() as state:
        assert state.read() is None


# A child that writes a new document and kills itself with SIGKILL at a chosen step
# of the write: "fsync" (the temporary file is complete but not renamed) or "dirsync"
# (renamed, directory not yet synced).
_KILLED_WRITER = """
    import os, signal, sys
    from dualstack import _statefile
    from dualstack._statefile import StateFile

    path, step = sys.argv[1], sys.argv[2]
    if step == "fsync":
        os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
    else:
        _statefile._fsync_directory = lambda d: os.kill(os.getpid(), signal.SIGKILL)
    with StateFile(path).locked() as state:
        state.write({"generation": 2, "payload": "x" * 200000})
"""


@pytest.mark.parametrize(
    ("step", "generation"), [("fsync", 1), ("dirsync", 2)], ids=["before-rename", "after-rename"]
)
def test_statefile_killed_mid_write_leaves_old_or_new_never_mixed(tmp_path, step, generation):
    path = tmp_path / "state.json"
    with StateFile(path).locked() as state:
        state.write({"generation": 1})
    result = _run_python(_KILLED_WRITER, str(path), step)
    assert result.returncode == -signal.SIGKILL, result.stderr
    # The lock died with the process, and the file is one whole document.
    with StateFile(path, lock_timeout=5).locked() as state:
        document = state.read()
    assert document is not None
    assert document["generation"] == generation


_WORKER = """
    import sys
    from dualstack._statefile import StateFile

    path, worker, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(rounds):
        with StateFile(path, lock_timeout=60).locked() as state:
            document = state.read() or {"entries": []}
            document["entries"].append(f"{worker}-{i}")
            state.write(document)
"""


def test_statefile_two_concurrent_writers_lose_no_update(tmp_path):
    path = tmp_path / "state.json"
    rounds = 40
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_WORKER), str(path), name, str(rounds)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    with StateFile(path).locked() as state:
        document = state.read()
    assert document is not None
    entries = document["entries"]
    assert sorted(entries) == sorted(f"{w}-{i}" for w in "ab" for i in range(rounds))
    # Each worker's own updates land in its order.
    for w in "ab":
        mine = [e for e in entries if e.startswith(f"{w}-")]
        assert mine == [f"{w}-{i}" for i in range(rounds)]


def test_statefile_shared_locks_coexist_but_exclude_a_writer(tmp_path):
    path = tmp_path / "state.json"
    with StateFile(path).locked(shared=True):
        with StateFile(path, lock_timeout=0.05).locked(shared=True) as reader:
            assert reader.read() is None
        with (
            pytest.raises(DualStackError, match="holds the lock"),
            StateFile(path, lock_timeout=0.05).locked(),
        ):
            pass  # pragma: no cover - never reached
