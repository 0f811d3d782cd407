"""A sweep's report gives the trust ranges of the regimes its points fall in (as `costsim run` gives one per part): a
swept accelerator or GPU count moves points to another regime; other swept fields do not."""

from __future__ import annotations

import json
from pathlib import Path

from costsim.api.run import load_scenario
from costsim.api.run_output import part_error_band
from costsim.api.sweep_trust import sweep_trust
from costsim.report import write_sweep_report
from costsim.sweep import run_sweep
from costsim.sweep.points import parse_grid
from costsim.sweep.store import load_rows

TINY = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"


def test_swept_hardware_and_scale_give_each_regime_its_range(tmp_path):
    s = load_scenario(TINY)
    grid = parse_grid(["training.hardware=h100-sxm,mi300x", "training.num_gpus=8,2048", "training.tokens=1e10,2e10"])
    res = run_sweep(s, out=str(tmp_path), mode="core", grid=grid)
    assert res["errors"] == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    trust = sweep_trust(manifest["scenario_doc"], load_rows(tmp_path))
    assert trust.points_not_placed == 0
    by = {(r.hardware, r.devices): r for r in trust.ranges}
    assert set(by) == {("h100-sxm", 8.0), ("h100-sxm", 2048.0), ("mi300x", 8.0), ("mi300x", 2048.0)}
    assert all(r.points == 2 for r in trust.ranges)  # the swept token counts stay in their regime
    # each placement's range is the one `costsim run` gives that point's scenario
    for (hw, n), r in by.items():
        one = load_scenario(TINY, [f"training.hardware={hw}", f"training.num_gpus={int(n)}"])
        assert (r.speed_band.as_dict() if r.speed_band else None) == part_error_band("training", one)
        assert (r.power_band.as_dict() if r.power_band else None) == part_error_band("training", one, "power")
    assert by[("h100-sxm", 2048.0)].speed_band != by[("mi300x", 2048.0)].speed_band  # NVIDIA and AMD regimes differ
    html = write_sweep_report(tmp_path).read_text()
    i = html.index("<h2>Trust ranges</h2>")
    section = html[i:html.index("<h2>Swept parameters</h2>")]
    assert "x mi300x" in section and "x h100-sxm" in section and "held-out cases" in section


def test_a_serving_budget_reads_on_its_searched_replica(tmp_path):
    doc = {"name": "t", "serving": {"model": "llama-3.1-8b", "hardware": "h100-sxm", "gpus": 8}}
    rows = [{"status": "ok", "variant": "base", "overrides_json": "[]", "serving_deployment_gpus_per_replica": 1},
            {"status": "ok", "variant": "base", "overrides_json": "[]", "serving_deployment_gpus_per_replica": 1},
            {"status": "error", "variant": "base", "overrides_json": "[]"}]
    (r,) = sweep_trust(doc, rows).ranges
    assert (r.part, r.devices, r.points) == ("serving", 1.0, 2)
    assert r.speed_band is not None and "1 device" in r.speed_band.regime
