"""Hostile input to the batch commands found by a CLI sweep (2026-12-07): duplicate grid fields, optimizer seeds out of
range, study directories that are files or another tool's, paths the file system refuses, queries that would run for
hours or return millions of rows, sweeps and searches where nothing succeeds.
Each is an exit-2 message naming the field (exit 3 for a valid request with nothing feasible), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from costsim.errors import InputError
from costsim.sweep.points import parse_grid, parse_random, random_samples
from tests.test_guards import _in_process

SCN = """name: t
training:
  model: llama-3.1-8b
  hardware: h100-sxm
  num_gpus: 8
  tokens: 1e9
"""


@pytest.fixture()
def scn(tmp_path: Path) -> Path:
    p = tmp_path / "t.yaml"
    p.write_text(SCN)
    return p


def test_a_grid_field_given_twice_is_refused():
    with pytest.raises(InputError) as e:
        parse_grid(["training.num_gpus=64", "training.num_gpus=128"])
    assert e.value.field == "--grid" and "more than once" in e.value.message


def test_random_samples_are_one_stream_per_path_in_order():
    specs = parse_random(["facility.pue=1.1:1.5", "training.num_gpus=8:64"])
    a, b = random_samples(specs, 5, seed_material="s"), random_samples(specs, 500, seed_material="s")
    assert b[:5] == a  # more samples keep the earlier ones
    only = random_samples(specs[:1], 5, seed_material="s")
    assert [x[0] for x in a] == [x[0] for x in only]  # another path does not move this one's values
    assert all(1.1 <= x[0][1] <= 1.5 and isinstance(x[1][1], int) and 8 <= x[1][1] <= 64 for x in b)


def test_a_sweep_where_every_point_fails_exits_3_with_the_first_error(scn, tmp_path, capsys):
    code, _, err = _in_process(["sweep", str(scn), "-o", str(tmp_path / "sw"), "--grid", "training.num_gpus=-1,0",
                                "--mode", "core", "--no-progress"], capsys)
    assert code == 3 and "every point failed" in err and "num_gpus" in err


def test_a_batched_sweep_where_every_group_fails_names_the_first_error(scn, tmp_path, capsys):
    """Points that pass validation but fail in the batched estimate come back as a group's table: the exit-3 line said
    'the first: see the error column of the results' instead of the reason (here the request's GPU limit, which the
    --grid axis crosses: the same value in the base scenario is refused up front, exit 2)."""
    code, _, err = _in_process(["sweep", str(scn), "-o", str(tmp_path / "sw"), "--grid", "training.tokens=1e9,2e9",
                                "--grid", "training.num_gpus=99999999999,99999999998", "--mode", "core", "--no-progress"], capsys)
    assert code == 3 and "every point failed" in err
    assert "see the error column" not in err and "gpus" in err and "10000000" in err


@pytest.mark.parametrize("extra", [["--seed", "-1"], ["--seed", str(2**40)]])
def test_optimizer_seeds_out_of_range_exit_2(scn, tmp_path, capsys, extra):
    code, _, err = _in_process(["optimize", str(scn), "-o", str(tmp_path / "o"), "--param", "training.num_gpus=8..64",
                                "--minimize", "usd", *extra], capsys)
    assert code == 2 and "--seed" in err and "Traceback" not in err


def test_a_study_directory_must_be_new_empty_or_a_study(scn, tmp_path, capsys):
    base = ["optimize", str(scn), "--param", "training.num_gpus=8..64", "--minimize", "usd", "--trials", "2"]
    code, _, err = _in_process([*base, "-o", str(scn)], capsys)
    assert code == 2 and "is a file" in err
    other = tmp_path / "sweep"
    other.mkdir()
    (other / "manifest.json").write_text("{}")
    code, _, err = _in_process([*base, "-o", str(other)], capsys)
    assert code == 2 and "not a costsim optimize study" in err and (other / "manifest.json").read_text() == "{}"
    code, _, err = _in_process([*base, "-o", ""], capsys)
    assert code == 2 and "--out is empty" in err
    code, _, err = _in_process([*base, "-o", str(tmp_path / ("x" * 5000))], capsys)
    assert code == 2 and "5,0" in err and "characters" in err


def test_a_search_with_nothing_feasible_exits_3(scn, tmp_path, capsys):
    code, _, err = _in_process(["optimize", str(scn), "-o", str(tmp_path / "o"), "--param", "training.num_gpus=8..64",
                                "--minimize", "usd", "--constraint", "usd<=0", "--trials", "3"], capsys)
    assert code == 3 and "no feasible trade-off" in err
    assert "no completed trial meets the constraints (3 completed, 0 failed)" in err


def test_queries_are_bounded_in_rows_and_paths(scn, tmp_path, capsys, monkeypatch):
    from costsim.sweep import store

    sw = tmp_path / "sw"
    assert _in_process(["sweep", str(scn), "-o", str(sw), "--grid", "training.num_gpus=8,16", "--mode", "core",
                        "--no-progress"], capsys)[0] == 0
    monkeypatch.setattr(store, "QUERY_MAX_ROWS", 1000)
    code, _, err = _in_process(["query", str(sw), "SELECT * FROM range(5000)"], capsys)
    assert code == 2 and "more than 1,000 rows" in err
    monkeypatch.setattr(store, "QUERY_TIMEOUT_S", 0.5)
    code, _, err = _in_process(["query", str(sw), "SELECT count(*) FROM range(1000000000000)"], capsys)
    assert code == 2 and "stopped after" in err
    code, _, err = _in_process(["query", str(tmp_path / ("q" * 5000)), "SELECT 1"], capsys)
    assert code == 2 and "cannot be read" in err
    code, _, err = _in_process(["query", str(scn), "SELECT 1"], capsys)
    assert code == 2 and "is a file" in err


def test_run_out_paths_the_file_system_refuses_exit_2(scn, tmp_path, capsys):
    code, _, err = _in_process(["run", str(scn), "-o", str(tmp_path / ("y" * 5000)), "--no-pdf"], capsys)
    assert code == 2 and "cannot be used" in err


def test_large_sobol_designs_skip_the_quadratic_bca_jackknife(monkeypatch):
    import numpy as np

    from costsim.uncertainty import sensitivity as sens

    rng = np.random.default_rng(0)
    n = 2 * sens.BCA_MAX_N  # a power of two above the BCa limit
    a, b = rng.uniform(size=(n, 2)), rng.uniform(size=(n, 2))
    f = lambda x: x[:, 0] + 0.1 * x[:, 1]
    ab = np.stack([np.where(np.arange(2) == i, b, a) for i in range(2)])  # A with column i from B
    monkeypatch.setattr(sens.stats, "sobol_indices", lambda **_: (_ for _ in ()).throw(AssertionError("BCa path")))
    res = sens.sobol_from_blocks(f(a), f(b), np.stack([f(x) for x in ab]), ["x0", "x1"])
    assert res.first_order_ci is not None and res.first_order[0] > 0.9 > res.first_order[1]


def test_a_case_file_whose_inputs_cannot_be_read_is_bad_input(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("- id: X-BAD\n  kind: inference\n  source: test\n  inputs: {model: llama-3-8b, hardware: h100-sxm, "
                 "num_gpus: 1e308, tp: 1, batch: abc, input_tokens: 1, output_tokens: 1}\n  metric: throughput_tokens_per_s\n"
                 "  expected: 100\n  comparison: within\n  tolerance_frac: 0.2\n  tolerance_reason: t\n")
    code, _, err = _in_process(["validate", "--cases", str(f)], capsys)
    assert code == 2 and "X-BAD" in err and "cannot read" in err


def test_serving_slos_have_an_upper_bound(capsys):
    code, _, err = _in_process(["serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "8",
                                "--ttft-slo-s", "1e308"], capsys)
    assert code == 2 and "ttft_slo_s" in err
