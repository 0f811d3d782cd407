"""Helpers shared by CLI commands: JSON output, tables, exit codes, numbers with scientific notation."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer

from costsim.errors import InputError
from costsim.jsonable import to_jsonable
from costsim.numtext import sig as fmt_sig  # noqa: F401 - re-exported for the CLI modules
from costsim.numtext import si as fmt_si  # noqa: F401 - re-exported for the CLI modules
from costsim.report.answers import device_noun_of  # noqa: F401 - re-exported for the CLI modules
from costsim.specs.overrides import parse_number

EXIT_INFEASIBLE = 3


def command_group(help_text: str) -> typer.Typer:
    """A sub-command group (`costsim hardware ...`) with the app's plain click help layout (see costsim.cli.app)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def parse_float(text: str | None, *, flag: str) -> float | None:
    """Accept 15e12, 15T, 1.5e9, 400B, 3M style numbers (the same parser as `--set` overrides)."""
    if text is None:
        return None
    return float(parse_number(text, field=flag, label=flag))


def parse_count(text: str | None, *, flag: str) -> int | None:
    """A whole count written as 4096, 4k or 1e6 (the number parser of parse_float), or None."""
    v = parse_float(text, flag=flag)
    if v is None:
        return None
    if v < 1 or v != int(v):
        raise InputError(f"{flag} expects a positive whole number, got {text!r}.", field=flag.lstrip("-").replace("-", "_"))
    return int(v)


def wall_limit_s(max_hours: float, allow_long: bool) -> float | None:
    """The work-time limit of --max-hours / --allow-long, s (None: no limit); a non-finite --max-hours is bad input."""
    if not math.isfinite(max_hours):
        raise InputError(f"--max-hours must be a finite number of hours, got {max_hours}; use --allow-long for no limit.",
                         field="--max-hours")
    return None if allow_long else max_hours * 3600.0


def print_json(doc: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(doc), indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def finish(result: dict[str, Any], *, as_json: bool, render) -> int:
    """Print a result (JSON or human) and return the exit code (3 when infeasible)."""
    if as_json:
        print_json(result)
    else:
        render(result)
        from costsim.api.trust import band_sentence

        # a trust range qualifies a number: an infeasible result has none to qualify
        for key in (("error_band", "power_error_band") if result.get("feasible") is not False else ()):
            if text := band_sentence(result.get(key)):
                typer.echo(text)
        if (why := result.get("cost_unavailable_reason")) and result.get("feasible") is not False:
            # the table's cost reads '-': say why, in the CLI's own terms
            typer.echo(f"Cost not priced: {why.replace('economics.usd_per_gpu_hour', '--usd-per-gpu-hour')}")
        for w in result.get("warnings") or []:
            typer.echo(f"warning: {w}", err=True)
    if result.get("feasible") is False:
        if not as_json:
            typer.echo(f"infeasible: {result.get('reason')}", err=True)
        raise typer.Exit(EXIT_INFEASIBLE)
    return 0


def field_help(cls, name: str) -> str:
    """CLI help text taken from the spec field's description (one source for CLI, UI and schema)."""
    return cls.model_fields[name].description or ""


def alias_note(r: dict) -> str | None:
    """One line naming the catalog entries a request reached through an alias (deepseek-r1 -> deepseek-v3)."""
    # (an infeasible result may not carry the resolved id: no note rather than 'priced as None')
    parts = [f"{r[k + '_asked_as']} is priced as {r.get(k)}" for k in ("model", "hardware") if r.get(k + "_asked_as") and r.get(k)]
    return "; ".join(parts) + " (catalog alias: the same architecture or part)." if parts else None
