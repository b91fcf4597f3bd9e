# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""One writer at a time: an exclusive lock file that a crashed or killed process never leaves in force.

Used for prediction files (`evaluation.predictions.PredictionFileLock`) and training output folders
(`training.checkpoints.exclusive_output_dir`). The lock is an OS `flock` on a small file holding the holder's pid:
the operating system releases it when the process ends, however it ends. Where `fcntl` does not exist (Windows),
nothing is locked.
"""

import os
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None


class FileLockHeldError(RuntimeError):
    """Another live process holds the lock.

    Attributes:
        path: the lock file.
        holder: the pid written by the holder (a string; "unknown" when unreadable).
    """

    def __init__(self, path: str, holder: str):
        super().__init__(f"{path} is held by pid {holder}")
        self.path = path
        self.holder = holder


class SingleWriterLock:
    """An exclusive, non-blocking lock on the file `path`, which holds the pid of its holder.

    A clean release deletes the file; a killed holder leaves it, unlocked, and the next run takes it. Use as a
    context manager, or `acquire()` / `release()`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fd: int | None = None

    def acquire(self) -> "SingleWriterLock":
        """Take the lock at once, or raise.

        Raises:
            FileLockHeldError: another process holds it.
        """
        if fcntl is None or self._fd is not None:
            return self
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", errors="replace").strip() or "unknown"
                os.close(fd)
                raise FileLockHeldError(self.path, holder) from None
            try:  # the holder may have deleted the file between our open and our lock: lock the current one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        """Delete the lock file and release the lock (nothing when not held)."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "SingleWriterLock":
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()
