"""Every command's --help, read on an 80-column terminal, names each of its flags in full: a reader copies the flag
from the help, so a name cut to `--moe-expert-laun…` (rich's table layout did that to the long ones) is a broken
promise. Walks the real command tree, so a new command or flag is covered without listing it here."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from costsim.cli import _register, app


def _commands(group, path: tuple[str, ...] = ()):
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():  # a group (typer ships its own click)
        yield from _commands(sub, (*path, name))


def test_every_flag_is_named_in_full_in_80_column_help():
    _register()
    root = typer.main.get_command(app)
    runner = CliRunner()
    seen = 0
    for path, cmd in _commands(root):
        res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, prog_name="costsim")
        assert res.exit_code == 0, (path, res.output)
        assert "…" not in res.output, (path, res.output)
        assert max(len(line) for line in res.output.splitlines()) <= 80, path
        for p in cmd.params:
            for flag in (*p.opts, *p.secondary_opts):
                if flag.startswith("--"):
                    assert flag in res.output, (path, flag)
                    seen += 1
    assert seen > 100  # the tree was walked (train, serve, site, run, plan, ... and their flags)
