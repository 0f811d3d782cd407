"""`costsim` command line. Each command group lives in its own module and only calls the API.

Bad input -> one plain paragraph on stderr, exit 2, never a traceback.
Infeasible-but-valid requests -> the result (feasible: false, reason), exit 3.
"""

from __future__ import annotations

import os
import sys
import traceback

import click
import typer
from pydantic import ValidationError

from costsim.errors import InputError, record_crash
from costsim.specs.base import describe_validation_error

def _click_modules():
    mods = [click]
    try:  # typer >= 0.2x vendors its own copy of click
        import typer._click as vendored  # type: ignore[import-not-found]

        mods.append(vendored)
    except ImportError:
        pass
    return mods


def _classes(name: str) -> tuple[type, ...]:
    out = []
    for m in _click_modules():
        for holder in (m, getattr(m, "exceptions", None)):
            c = getattr(holder, name, None) if holder is not None else None
            if isinstance(c, type) and c not in out:
                out.append(c)
    return tuple(out)


_CLICK_EXC = _classes("ClickException")
_ABORT = _classes("Abort")
_EXIT = _classes("Exit") + tuple(c for c in (getattr(typer, "Exit", None),) if isinstance(c, type))

app = typer.Typer(
    name="costsim",
    help="What it takes to train and serve AI models: GPUs, days, MWh, dollars, tCO2e, MW of grid. "
         "Add --debug anywhere (or COSTSIM_DEBUG=1) to see the traceback of an internal error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # click's plain help: long flag names get their own line instead of being cut at 80 columns
)


_REGISTERED: list[bool] = []


def _register() -> None:
    """Add every command to the app once per process (main() may be called many times: tests, notebooks)."""
    if _REGISTERED:
        return
    from costsim.cli import catalog, grid, limits, optimize, plan, run, serve, site, train, validate

    for mod in (catalog, train, serve, site, run, validate, grid, limits, plan, optimize):
        mod.register(app)
    _REGISTERED.append(True)


def _debug_requested(argv: list[str]) -> tuple[list[str], bool]:
    """`--debug` anywhere on the command line (or COSTSIM_DEBUG=1) shows tracebacks of internal errors."""
    debug = os.environ.get("COSTSIM_DEBUG", "").strip() not in ("", "0", "false", "no")
    if "--debug" in argv:
        argv = [a for a in argv if a != "--debug"]
        debug = True
    return argv, debug


def main(argv: list[str] | None = None) -> None:
    argv, debug = _debug_requested(list(sys.argv[1:] if argv is None else argv))
    try:
        _register()
        rv = app(args=argv, standalone_mode=False, prog_name="costsim")
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except ValidationError as exc:
        print("error: " + describe_validation_error(exc, what="input", source=None), file=sys.stderr)
        sys.exit(2)
    except _ABORT:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except _EXIT as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except _CLICK_EXC as exc:
        exc.show()
        code = getattr(exc, "exit_code", 2)
        sys.exit(2 if code in (1, 2) else code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except MemoryError as exc:
        rec = record_crash(exc, context="costsim " + " ".join(a[:200] for a in argv[:20]))
        print(f"error: the request ran out of memory (error {rec.error_id}); it is larger than this machine can hold. "
              "Reduce the simulated horizon, arrival rate, replicas or points, or raise the work limits only on a bigger "
              "machine (see `costsim limits`).", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the error boundary: one line with an id, the traceback in a log
        if debug:
            traceback.print_exc()
        rec = record_crash(exc, context="costsim " + " ".join(a[:200] for a in argv[:20]))
        print("error: " + rec.one_line(), file=sys.stderr)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
