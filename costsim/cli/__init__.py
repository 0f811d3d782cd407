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

app = typer.Typer(
    name="costsim",
    help="What it takes to train and serve AI models: GPUs, days, MWh, dollars, tCO2e, MW of grid.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from costsim.cli import catalog, run, serve, site, train, validate

    for mod in (catalog, train, serve, site, run, validate):
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
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)
