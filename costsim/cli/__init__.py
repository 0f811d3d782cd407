"""`costsim` command line. Each command group lives in its own module and only calls the API.

Bad input -> one plain paragraph on stderr, exit 2, never a traceback.
Infeasible-but-valid requests -> the result (feasible: false, reason), exit 3.
"""

from __future__ import annotations

import sys

import click
import typer
from pydantic import ValidationError

from costsim.errors import InputError
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
    help="What it takes to train and serve AI models: GPUs, days, MWh, dollars, tCO2e, MW of grid.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from costsim.cli import catalog, grid, run, serve, site, train, validate

    for mod in (catalog, train, serve, site, run, validate, grid):
        mod.register(app)


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
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
    sys.exit(rv if isinstance(rv, int) else 0)
