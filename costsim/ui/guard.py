"""The app's guards: a server-wide cap on concurrent runs, a per-session run limit and the error boundary.

The app serves people who are not on this machine, so every button that starts a simulation, a sweep or an
uncertainty study goes through `guarded_run`: the same work limits as the CLI (checked inside the API),
at most COSTSIM_APP_MAX_CONCURRENT_RUNS runs at once on the whole server (default 2, one per core of a small
machine) and at most COSTSIM_APP_MAX_RUNS_PER_SESSION runs per browser session (default 200). None of these
can be changed from a widget or a share link; only the server's environment sets them.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, MutableMapping, TypeVar

from costsim.errors import InputError, record_crash

T = TypeVar("T")

_SESSION_KEY = "_costsim_runs_started"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        v = int(raw) if raw else default
    except ValueError:
        v = default
    return v if v >= 1 else default


def max_concurrent_runs() -> int:
    return _env_int("COSTSIM_APP_MAX_CONCURRENT_RUNS", 2)


def max_runs_per_session() -> int:
    return _env_int("COSTSIM_APP_MAX_RUNS_PER_SESSION", 200)


_SLOTS = threading.BoundedSemaphore(max_concurrent_runs())
_SLOT_WAIT_S = 5.0


class RunRefused(InputError):
    """A run the server will not start now (busy, or this session used its runs)."""


def guarded_run(session: MutableMapping[str, Any], fn: Callable[[], T], *, what: str = "run") -> T:
    """Run `fn` under the session limit and a server-wide slot. InputError passes through; any other
    exception becomes an InputError-like one-line message with an error id (traceback in the crash log)."""
    started = int(session.get(_SESSION_KEY, 0))
    cap = max_runs_per_session()
    if started >= cap:
        raise RunRefused(f"this session has started {started} runs, the most one browser session may start on this server "
                         f"(COSTSIM_APP_MAX_RUNS_PER_SESSION={cap}); open a new session or run `costsim run` locally.")
    if not _SLOTS.acquire(timeout=_SLOT_WAIT_S):
        raise RunRefused(f"the server is already running {max_concurrent_runs()} runs (COSTSIM_APP_MAX_CONCURRENT_RUNS); "
                         "try again in a minute.")
    session[_SESSION_KEY] = started + 1
    try:
        return fn()
    except InputError:
        raise
    except MemoryError as exc:
        rec = record_crash(exc, context=f"app {what}")
        raise InputError(f"the {what} ran out of memory (error {rec.error_id}); make the request smaller.") from None
    except Exception as exc:  # noqa: BLE001 - the app's error boundary: a one-line message with an id
        rec = record_crash(exc, context=f"app {what}")
        raise InputError(rec.one_line()) from None
    finally:
        _SLOTS.release()


def count_session_run(session: MutableMapping[str, Any]) -> None:
    """Count one run against the session's limit (RunRefused past it)."""
    started = int(session.get(_SESSION_KEY, 0))
    cap = max_runs_per_session()
    if started >= cap:
        raise RunRefused(f"this session has started {started} runs, the most one browser session may start on this server "
                         f"(COSTSIM_APP_MAX_RUNS_PER_SESSION={cap}); open a new session or run `costsim run` locally.")
    session[_SESSION_KEY] = started + 1


def acquire_slot() -> None:
    """Take one of the server's run slots for a background run (RunRefused when all are busy)."""
    if not _SLOTS.acquire(timeout=_SLOT_WAIT_S):
        raise RunRefused(f"the server is already running {max_concurrent_runs()} runs (COSTSIM_APP_MAX_CONCURRENT_RUNS); "
                         "try again in a minute.")


def release_slot() -> None:
    try:
        _SLOTS.release()
    except ValueError:  # released more often than acquired: nothing to give back
        pass


def page_boundary(render: Callable[[], None], show_error: Callable[[str], Any]) -> None:
    """Run a page; an unexpected exception shows one line with an error id instead of a traceback."""
    try:
        render()
    except InputError as exc:
        show_error(str(exc))
    except Exception as exc:  # noqa: BLE001 - streamlit's rerun/stop are BaseException and pass through
        show_error(record_crash(exc, context="app page").one_line())
