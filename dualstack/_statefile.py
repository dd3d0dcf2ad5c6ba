"""The `dualstack` command's state file: locked, validated, atomically replaced JSON.

Purpose: a local, ``kubectl``-like workflow keeps a cluster between commands in one JSON
file. Two commands may run at once and a command may be killed at any moment; neither
may lose an update or leave a half-written file behind.

Key types: ``StateFile(path)``; ``with StateFile(path).locked() as state:`` holds an
exclusive lock for a whole read-modify-write (``locked(shared=True)`` for commands that
only read); ``state.read()`` and ``state.write(document)`` inside it.

Invariants:
- Writes go to a temporary file in the same directory, which is flushed, fsynced and
  renamed over the target with ``os.replace`` (atomic on POSIX), after which the
  directory is fsynced so the rename itself survives a crash. A reader therefore sees
  the old file or the new one, never a mix.
- The lock is ``fcntl.flock`` on a sidecar ``<file>.lock`` (never on the state file
  itself, whose inode changes with every rename). The kernel drops it when the process
  dies, so a killed command never leaves a stale lock.
- A file that is not a complete JSON document of the expected kind is refused with a
  message naming the file and what is wrong; nothing in this module ever writes over a
  file it could not read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from dualstack.errors import DualStackError

__all__ = ["DEFAULT_STATE_PATH", "STATE_KIND", "LockedState", "StateFile"]

DEFAULT_STATE_PATH: Final = "dualstack-state.json"
"""Where the command keeps its state unless ``--state`` says otherwise."""

STATE_KIND: Final = "DualStackState"
"""The ``kind`` every state document carries, so a stray JSON file is never taken for one."""

_LOCK_POLL_SECONDS: Final = 0.05


class StateFile:
    """One state file on disk and its sidecar lock file.

    Args:
        path: the state file; its lock is ``<path>.lock`` in the same directory.
        lock_timeout: seconds to wait for another command's lock before giving up;
            ``None`` waits for ever.
    """

    __slots__ = ("lock_path", "lock_timeout", "path")

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float | None = 60.0):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self, *, shared: bool = False) -> Iterator[LockedState]:
        """Hold the exclusive lock for a whole read-modify-write.

        With ``shared=True`` the lock is shared: readers do not wait for each other,
        only for a writer (and a writer waits for them). Do not ``write`` under a
        shared lock.

        Raises:
            DualStackError: the lock could not be taken within ``lock_timeout`` or its
                file cannot be created.
        """
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise DualStackError(
                f"cannot create the lock file {str(self.lock_path)!r}: {exc.strerror}",
                hint="choose a --state path in a directory you can write to",
            ) from None
        try:
            self._acquire(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield LockedState(self)
        finally:
            # Closing the descriptor releases the flock.
            os.close(fd)

    def _acquire(self, fd: int, mode: int) -> None:
        if self.lock_timeout is None:
            fcntl.flock(fd, mode)
            return
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DualStackError(
                        f"another dualstack command holds the lock {str(self.lock_path)!r} "
                        f"(waited {self.lock_timeout:g} s)",
                        hint="wait for it to finish, then run the command again",
                    ) from None
                time.sleep(_LOCK_POLL_SECONDS)


class LockedState:
    """Read and write access to a state file while its lock is held."""

    __slots__ = ("_file",)

    def __init__(self, file: StateFile) -> None:
        self._file = file

    @property
    def path(self) -> Path:
        """The state file's path."""
        return self._file.path

    def exists(self) -> bool:
        """Whether the state file exists (an empty file counts: it is damaged)."""
        return self._file.path.exists()

    def read(self) -> dict[str, Any] | None:
        """The state document, or ``None`` when the file does not exist.

        Raises:
            DualStackError: the file is unreadable, empty, truncated, not JSON, or not
                a state document; the message names the file and the problem, and the
                file is left untouched.
        """
        path = self._file.path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DualStackError(
                f"cannot read the state file {str(path)!r}: {exc.strerror}",
                hint="check the path and its permissions",
            ) from None
        damaged_hint = (
            "restore it from a backup, or move it away to start a new state; "
            "dualstack never overwrites a state file it cannot read"
        )
        if not raw.strip():
            raise DualStackError(f"the state file {str(path)!r} is empty", hint=damaged_hint)
        try:
            document = json.loads(raw)
        except UnicodeDecodeError:
            raise DualStackError(
                f"the state file {str(path)!r} is not UTF-8 text", hint=damaged_hint
            ) from None
        except json.JSONDecodeError as exc:
            raise DualStackError(
                f"the state file {str(path)!r} is damaged: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno}",
                hint=damaged_hint,
            ) from None
        if not isinstance(document, dict) or document.get("kind") != STATE_KIND:
            raise DualStackError(
                f"the file {str(path)!r} is not a dualstack state file "
                f'(no "kind": "{STATE_KIND}")',
                hint="choose another --state path; dualstack never overwrites it",
            )
        return document

    def write(self, document: Mapping[str, Any]) -> None:
        """Replace the state file atomically with ``document``.

        The document is written to a temporary file beside the target, fsynced, renamed
        over it and the directory fsynced. On any failure the old file is intact and
        the temporary file removed.

        Raises:
            DualStackError: the directory is not writable or the disk is full.
        """
        path = self._file.path
        body = json.dumps({**document, "kind": STATE_KIND}, indent=1, sort_keys=True) + "\n"
        directory = path.parent
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise DualStackError(
                f"cannot write the state file {str(path)!r}: {exc.strerror}",
                hint="choose a --state path in a directory you can write to",
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(body)
                tmp.flush()
                os.fchmod(tmp.fileno(), mode)
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            if isinstance(exc, OSError):
                raise DualStackError(
                    f"cannot write the state file {str(path)!r}: {exc.strerror}",
                    hint="free some disk space or choose another --state path",
                ) from None
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
