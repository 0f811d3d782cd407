"""Error types shared by every layer. Imports nothing from costsim.

`InputError` means the user gave something we cannot use (unknown id, malformed file, value out
of range). The CLI turns it into one plain paragraph on stderr and exit code 2, never a traceback.
An infeasible-but-valid request is NOT an error: it is a result with `feasible=False` and a reason.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad user input. `message` is a full, plain-language paragraph naming the field and the fix."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        self.message = message
        self.field = field
        self.source = source
        super().__init__(message)


class UnknownIdError(InputError):
    """An id that is not in a catalog."""


# --- The error boundary shared by every entry point (CLI, API callers, app, sweep workers) -------------------------

def crash_log_dir() -> "Path":
    """Where tracebacks of unexpected errors go: $COSTSIM_LOG_DIR, else <tmp>/costsim-logs."""
    import os
    import tempfile
    from pathlib import Path

    return Path(os.environ.get("COSTSIM_LOG_DIR") or Path(tempfile.gettempdir()) / "costsim-logs")


class CrashRecord:
    """An unexpected exception turned into a one-line message with an error id; the traceback is in `log_path`."""

    __slots__ = ("error_id", "log_path", "summary")

    def __init__(self, error_id: str, log_path: "Path | None", summary: str):
        self.error_id = error_id
        self.log_path = log_path
        self.summary = summary

    def one_line(self) -> str:
        where = f"; the traceback is in {self.log_path}" if self.log_path else ""
        return (f"internal error {self.error_id}: {self.summary}{where}. This is a costsim bug, not your input: "
                "please report it with the error id (run again with --debug or COSTSIM_DEBUG=1 to see the traceback).")


def record_crash(exc: BaseException, *, context: str = "") -> CrashRecord:
    """Write the traceback of `exc` to the crash log directory and return a record with its error id.
    Never raises (an unwritable log directory gives a record without a path)."""
    import datetime
    import traceback
    import uuid

    error_id = uuid.uuid4().hex[:10]
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    summary = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}".rstrip(": ")
    log_path = None
    try:
        d = crash_log_dir()
        d.mkdir(parents=True, exist_ok=True)
        log_path = d / f"costsim-error-{error_id}.log"
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        log_path.write_text(f"costsim error {error_id} at {stamp}\ncontext: {context}\n\n{text}", encoding="utf-8")
    except OSError:
        log_path = None
    return CrashRecord(error_id, log_path, summary)
