"""Work done by a child process while this one goes on (`Forked`): the private feed files of a
subscribers file's new subscribers, created while their welcome emails are built.

Not a thread: a thread creating files needs the GIL back after each system call, and a thread
building emails holds it for its 5 ms switch interval each time, so beside 2 s of pure-Python
work a thread created 94 to 3,240 of 20,000 files (the switch interval at 5 ms, then 0.2 ms),
where alone it created all of them in 0.7 to 4 s. A child has an interpreter of its own and the
machine's other CPU. It is forked, not spawned: it starts with everything already read and
built (no imports, nothing sent through a pipe), and ends with `os._exit`, so that it never
touches what it shares with the parent (the database connection, buffered output, `atexit`).

A process running other threads does not fork (a lock one of them held would stay held in the
child), and neither does a system without `fork`: `Forked.start` then says no, and the caller
does the work itself.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
from collections.abc import Callable

_MESSAGE_BYTES = 2000  # of the child's error, more than any one-line message; less than a pipe


class Forked:
    """A child process running `work` (started by `start`); `wait` for it, or `stop` it."""

    def __init__(self, pid: int, errors: int) -> None:
        self._pid = pid
        self._errors: int | None = errors  # the pipe the child's error comes through
        self._status: int | None = None

    @classmethod
    def start(cls, work: Callable[[], None]) -> Forked | None:
        """`work` running in a child process, or None when this process cannot fork safely."""
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: whatever happens, it leaves by `os._exit`
            code = 1
            try:
                os.close(read)  # signals as the parent takes them: Ctrl-C stops both, or neither
                gc.disable()  # a collection would walk (and copy) the parent's whole heap
                work()
                code = 0
            except BaseException as exc:  # handed to the parent, which raises it in `wait`
                with contextlib.suppress(BaseException):
                    said = str(exc) or type(exc).__name__
                    os.write(write, said.encode("utf-8", "replace")[:_MESSAGE_BYTES])
            finally:
                os._exit(code)
        os.close(write)
        return cls(pid, read)

    def wait(self) -> None:
        """Wait for the child to finish; its error, if it failed, raised as an `OSError` (what
        it does is write files)."""
        status = self._reap()
        said = self._said()
        if status < 0:
            raise OSError(f"the process writing them was ended by {signal.Signals(-status).name}")
        if status != 0:
            raise OSError(said or f"the process writing them ended with status {status}")

    def stop(self) -> None:
        """End the child now and wait for it to go (what it has done stays done)."""
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._reap()
        self._said()

    def _reap(self) -> int:
        """The child's exit status, waited for the first time."""
        if self._status is None:
            _, status = os.waitpid(self._pid, 0)
            self._status = os.waitstatus_to_exitcode(status)
        return self._status

    def _said(self) -> str:
        """What the child wrote about its error (read once: the pipe is closed after)."""
        if self._errors is None:
            return ""
        try:
            return os.read(self._errors, _MESSAGE_BYTES).decode("utf-8", "replace")
        finally:
            os.close(self._errors)
            self._errors = None
