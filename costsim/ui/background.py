"""Scenario runs in the background for the app: a child process runs the scenario and writes the reports;
the page polls its progress file once a second, shows finished variants as they come and can cancel it.

The page never blocks on a run: the Streamlit script only starts the process and reads small JSON files.
A run holds one of the server's run slots (costsim.ui.guard) until it ends or is cancelled; a session may
have one background run at a time.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costsim.errors import InputError, record_crash

PROGRESS = "progress.json"
_RELEASE_LOCK = threading.Lock()
RESULT = "result.json"


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, default=str), encoding="utf-8")
    tmp.replace(path)


def _child(scenario_json: str, seed: int, workdir: str) -> None:
    """Run in the child process: the scenario, progress after each variant, then the reports."""
    from costsim.api.run import run_scenario, summary_doc, variant_scenarios
    from costsim.report import write_run
    from costsim.report.conclusion import variant_sentences
    from costsim.specs.scenario import Scenario

    wd = Path(workdir)
    done: list[dict[str, Any]] = []

    def on_variant(i: int, n: int, v) -> None:
        done.append({"name": v.name, "sentences": variant_sentences(v), "wall_s": v.wall_s})
        _write_json(wd / PROGRESS, {"done": i, "total": n, "finished": done})

    try:
        s = Scenario.model_validate_json(scenario_json)
        _write_json(wd / PROGRESS, {"done": 0, "total": len(variant_scenarios(s, source="app")), "finished": []})
        result = run_scenario(s, seed=seed, source="app", on_variant=on_variant)
        written = write_run(result, wd / "out", pdf=False)
        from costsim.report.charts import banded

        site_ts = {}
        for v in result.variants:  # the site power for the page's chart, binned like the reports (<= 1,500 points)
            ts = v.site_timeseries
            if ts and "site_power_w" in ts:
                t, mean, _, hi, _ = banded(ts["t_s"], ts["site_power_w"], None, ts.get("site_power_max_w"))
                site_ts[v.name] = {"t_s": t.tolist(), "site_power_w": mean.tolist(), "site_power_max_w": hi.tolist()}
        from costsim.report.conclusion import conclusion

        _write_json(wd / RESULT, {"ok": True, "summary": summary_doc(result, conclusion(result)), "files": {k: str(v) for k, v in written["files"].items()},
                                  "notices": written.get("notices", []), "site_timeseries": site_ts,
                                  "answer": conclusion(result)})
    except InputError as exc:
        _write_json(wd / RESULT, {"ok": False, "error": exc.message})
    except Exception as exc:  # noqa: BLE001 - the boundary of the background run: one line with an error id
        _write_json(wd / RESULT, {"ok": False, "error": record_crash(exc, context="app background run").one_line()})


@dataclass
class BackgroundRun:
    """One scenario run in a child process."""

    scenario_hash: str
    workdir: Path
    process: Any
    started_at: float = field(default_factory=time.monotonic)
    released: bool = False

    def progress(self) -> dict[str, Any]:
        try:
            return json.loads((self.workdir / PROGRESS).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {"done": 0, "total": 1, "finished": []}

    def result(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.workdir / RESULT).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    @property
    def running(self) -> bool:
        return self.process.is_alive()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at

    def cancel(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=5)
        self.release()

    def release(self) -> None:
        """Give the server's run slot back (once; the watcher thread and the page may both call it)."""
        with _RELEASE_LOCK:
            if self.released:
                return
            self.released = True
        from costsim.ui import guard

        guard.release_slot()

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(scenario, seed: int, scenario_hash: str) -> BackgroundRun:
    """Start a background run (InputError when the server has no free run slot)."""
    from costsim.api.run import check_scenario_work, variant_scenarios
    from costsim.ui import guard

    check_scenario_work(scenario, variants=len(variant_scenarios(scenario, source="app")))  # refuse before starting
    guard.acquire_slot()
    wd = Path(tempfile.mkdtemp(prefix="costsim-app-run-"))
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_child, args=(scenario.model_dump_json(), int(seed), str(wd)), daemon=True)
    try:
        proc.start()
    except Exception:
        guard.release_slot()
        shutil.rmtree(wd, ignore_errors=True)
        raise
    run = BackgroundRun(scenario_hash, wd, proc)
    # the slot comes back when the process ends even if no page ever polls it again (a closed browser tab)
    threading.Thread(target=lambda: (proc.join(), run.release()), daemon=True, name="costsim-run-watcher").start()
    return run
