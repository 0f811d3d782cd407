"""Review fixes: seeds from grid/variants, point ids, XLSX injection, the DuckDB sandbox,
type-checked grid values, integer sampling from the schema, CLI range checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costsim.api.run import PartResult, RunResult, VariantResult, combine_site, load_scenario, ranges_of, scenario_from_dict, sim_available
from costsim.errors import InputError
from costsim.sweep import run_sweep
from costsim.sweep.points import build_tasks, parse_grid, parse_random, random_samples
from costsim.sweep.store import ResultStore, query
from costsim.specs.scenario import scenario_hash

TINY = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"
needs_training_sim = pytest.mark.skipif(not sim_available("training"), reason="costsim.sim.training not available in this build")


def _ids(tasks):
    return [t["point_id"] for t in tasks]


# 1. seeds ---------------------------------------------------------------------------------

def test_grid_seed_is_used():
    s = load_scenario(TINY)
    t = build_tasks(s, grid=parse_grid(["simulation.seed=1,2,3"]))
    assert [x["seed"] for x in t] == [1, 2, 3] and len(set(_ids(t))) == 3
    t2 = build_tasks(s, grid=parse_grid(["simulation.seed=5"]), seeds=2)
    assert [x["seed"] for x in t2] == [5, 6]


@needs_training_sim
def test_grid_seed_changes_results(tmp_path):
    s = load_scenario(TINY)
    run_sweep(s, out=str(tmp_path / "g"), grid=parse_grid(["simulation.seed=0,3"]), executor="local")
    cols, rows = query(tmp_path / "g", "SELECT seed, training_wall_time_s FROM points ORDER BY seed")
    assert [r[0] for r in rows] == [0, 3] and rows[0][1] != rows[1][1]
    # the same numbers as --seeds 4 gives for seeds 0 and 3
    run_sweep(s, out=str(tmp_path / "s"), seeds=4, executor="local")
    ref = dict(query(tmp_path / "s", "SELECT seed, training_wall_time_s FROM points")[1])
    assert {r[0]: r[1] for r in rows} == {0: ref[0], 3: ref[3]}


def test_variant_seed_used_by_sweep_and_run(monkeypatch):
    import costsim.api.run as run_mod

    s = scenario_from_dict({"name": "v", "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 8},
                            "simulation": {"seed": 3}, "variants": [{"name": "s7", "set": {"simulation.seed": 7}}, {"name": "same", "set": {}}]})
    t = build_tasks(s)
    assert {x["variant"]: x["seed"] for x in t} == {"base": 3, "s7": 7, "same": 3}
    seen = {}
    monkeypatch.setattr(run_mod, "run_variant", lambda name, vs, seed, clock=None: seen.setdefault(name, seed))
    monkeypatch.setattr(run_mod, "RunResult", lambda *a, **k: None)
    run_mod.run_scenario(s)
    assert seen == {"base": 3, "s7": 7, "same": 3}
    seen.clear()
    run_mod.run_scenario(s, seed=11)  # an explicit seed replaces the base seed, not a variant's own
    assert seen == {"base": 11, "s7": 7, "same": 11}


# 2. point ids -----------------------------------------------------------------------------

def test_ids_independent_of_grid_order_and_number_spelling():
    s = load_scenario(TINY)
    a = build_tasks(s, grid=parse_grid(["training.num_gpus=1024,2048", "economics.electricity_usd_per_kwh=1,0.1"]))
    b = build_tasks(s, grid=parse_grid(["economics.electricity_usd_per_kwh=1.0,0.1", "training.num_gpus=1024,2048"]))
    assert sorted(_ids(a)) == sorted(_ids(b)) and len(set(_ids(a))) == 4
    # another value -> another id
    c = build_tasks(s, grid=parse_grid(["economics.electricity_usd_per_kwh=2"]))
    assert not set(_ids(c)) & set(_ids(a))


def test_ids_change_with_referenced_file_content(tmp_path):
    import yaml

    from costsim.specs.catalog import models_dir

    model = yaml.safe_load((models_dir() / "llama-3-8b.yaml").read_text())
    mfile = tmp_path / "my-model.yaml"
    mfile.write_text(yaml.safe_dump(model))
    scn = tmp_path / "s.yaml"
    scn.write_text(TINY.read_text().replace("model: llama-3-8b", "model: my-model.yaml"))
    id1 = _ids(build_tasks(load_scenario(scn)))
    assert id1 == _ids(build_tasks(load_scenario(scn)))
    h1 = scenario_hash(load_scenario(scn))
    model["n_layers"] = int(model["n_layers"]) + 2
    mfile.write_text(yaml.safe_dump(model))
    assert _ids(build_tasks(load_scenario(scn))) != id1
    assert scenario_hash(load_scenario(scn)) == h1  # the catalog/run id itself stays as it was


def test_more_samples_keep_earlier_points():
    specs = parse_random(["economics.electricity_usd_per_kwh=0.03:0.15", "training.num_gpus=64:4096:log"])
    a = random_samples(specs, 3, seed_material="m")
    b = random_samples(specs, 6, seed_material="m")
    assert b[:3] == a and len({tuple(x) for x in b}) == 6
    s = load_scenario(TINY)
    t3 = build_tasks(s, random=specs[:1], samples=3)
    t6 = build_tasks(s, random=specs[:1], samples=6)
    assert set(_ids(t3)) < set(_ids(t6))


# 3. xlsx ----------------------------------------------------------------------------------

def _result(name):
    s = scenario_from_dict({"name": name, "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 8}})
    t = np.arange(0, 300, 60.0)
    pr = PartResult({"feasible": True, "cost_usd": 1.0, "note": "=HYPERLINK(\"http://x\")", "n2": "+1", "n3": "@SUM(A1)", "n4": "-2+3"},
                    {"t_s": t, "facility_power_mean_w": 1e4 + t}, {}, [{"cost_usd": 1.0}], ranges_of([{"cost_usd": 1.0}]))
    site, sts = combine_site({"training": pr}, None)
    v = VariantResult(name, s, scenario_hash(s), {"training": pr}, site, sts, 0.1)
    return RunResult(s, scenario_hash(s), 0, [v], 0.1, "2026-01-01T00:00:00+00:00")


def test_xlsx_no_formulas_and_control_chars(tmp_path):
    import openpyxl

    from costsim.report.xlsx import write_xlsx

    p = write_xlsx(_result("=cmd|' /C calc'!A0 bell\x07name"), tmp_path / "r.xlsx")
    assert [f.name for f in tmp_path.iterdir()] == ["r.xlsx"]
    wb = openpyxl.load_workbook(p)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.value for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert '=HYPERLINK("http://x")' in texts and "+1" in texts and "@SUM(A1)" in texts and "-2+3" in texts
    assert "=cmd|' /C calc'!A0 bellname" in texts
    assert not any("\x07" in n for n in wb.sheetnames)


# 4. duckdb sandbox ------------------------------------------------------------------------

def test_query_sandbox(tmp_path):
    ResultStore(tmp_path).append([{"point_id": "a", "variant": "base", "x": 1}])
    assert query(tmp_path, "SELECT x FROM points")[1] == [(1,)]
    victim = tmp_path.parent / f"{tmp_path.name}-leak.csv"
    for sql in (f"COPY (SELECT 1) TO '{victim}'", f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", "SELECT * FROM read_csv('/etc/passwd')",
                "INSTALL httpfs", "SET enable_external_access=true", f"ATTACH '{tmp_path}/db.duckdb'"):
        with pytest.raises(InputError):
            query(tmp_path, sql)
    assert not victim.exists() and not (tmp_path / "x.csv").exists() and not (tmp_path / "db.duckdb").exists()


def test_query_result_size_is_limited_and_the_table_shortens_long_values(tmp_path, monkeypatch):
    """`query` limited rows, not bytes: repeat('x', 1e9) took 72 s and 4 GB and printed a 1 GB value (a helper's fuzz
    sweep). A result past QUERY_MAX_RESULT_BYTES is refused; the CLI table shows at most MAX_CELL_CHARS of a value."""
    import costsim.sweep.store as store
    from costsim.cli.run import MAX_CELL_CHARS, _cell_text

    ResultStore(tmp_path).append([{"point_id": "a", "variant": "base", "x": 1}])
    monkeypatch.setattr(store, "QUERY_MAX_RESULT_BYTES", 10_000)
    with pytest.raises(InputError, match="the query's result passes"):
        query(tmp_path, "SELECT repeat('x', 20000) FROM points")
    assert query(tmp_path, "SELECT repeat('x', 100) FROM points")[1] == [("x" * 100,)]
    assert _cell_text("y" * 1000).startswith("y" * MAX_CELL_CHARS + "... (1,000 characters")


def test_query_error_shortens_the_users_token_and_names_the_nearest_columns(tmp_path):
    """DuckDB's binder error repeated a 3,000-character column name whole; it also has the nearest column names on a
    later line, which were dropped with it. Now the token is cut and the nearest columns are named."""
    ResultStore(tmp_path).append([{"point_id": "a", "variant": "base", "training_wall_time_s": 1.0}])
    with pytest.raises(InputError) as err:
        query(tmp_path, f"SELECT nosuch{'x' * 3000} FROM points")
    assert len(str(err.value)) < 600 and "(3,006 characters)" in str(err.value)
    with pytest.raises(InputError, match='nearest columns: "training_wall_time_s"'):
        query(tmp_path, "SELECT training_wall_time FROM points")


# 5. types ---------------------------------------------------------------------------------

def test_grid_value_of_wrong_type_refused():
    with pytest.raises(InputError, match="training.num_gpus='many'"):
        parse_grid(["training.num_gpus=512,many"])
    assert parse_grid(["economics.electricity_usd_per_kwh=1"]) == [("economics.electricity_usd_per_kwh", [1.0])]
    assert isinstance(parse_grid(["economics.electricity_usd_per_kwh=1"])[0][1][0], float)


def test_sweep_report_reads_mixed_types(tmp_path):
    from costsim.report import _read_sweep

    st = ResultStore(tmp_path)
    st.append([{"point_id": "a", "variant": "base", "status": "ok", "param_x": 1, "y": 1.0}])
    st.append([{"point_id": "b", "variant": "base", "status": "ok", "param_x": "text", "y": 2.0}])
    _, rows = _read_sweep(tmp_path)
    assert sorted(r["point_id"] for r in rows) == ["a", "b"]


# 6. integer sampling ----------------------------------------------------------------------

def test_random_integer_from_schema():
    r = parse_random(["facility.pue=1:2", "training.num_gpus=64:4096"])
    assert not r[0].integer and r[1].integer
    vals = [v for (p, v), _ in random_samples(r, 20, seed_material="z")]
    assert all(isinstance(v, float) and 1 <= v <= 2 for v in vals) and len({round(v, 6) for v in vals}) > 2
    with pytest.raises(InputError):
        parse_random(["training.num_gpus=1.5:8"])


# 7. CLI range checks ----------------------------------------------------------------------

@pytest.mark.parametrize("extra", [["--workers", "-1"], ["--workers", "0"], ["--grid", "variants.0.name=a,b"], ["--samples", "3"],
                                   ["--random", "variants.0.name=1:2", "--samples", "2"], ["--grid", "training.num_gpus=x"]])
def test_cli_sweep_bad_args_exit_2(tmp_path, extra, cli):
    r = cli("sweep", str(TINY), "--out", str(tmp_path / "o"), "--no-progress", "--mode", "core", *extra)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_cli_query_limit_negative(tmp_path, cli):
    ResultStore(tmp_path).append([{"point_id": "a", "variant": "base", "x": 1}])
    r = cli("query", str(tmp_path), "SELECT * FROM points", "--limit", "-1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = cli("query", str(tmp_path), "COPY (SELECT 1) TO '/tmp/costsim-review-leak.csv'")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_run_sweep_workers_checked(tmp_path):
    with pytest.raises(InputError, match="workers"):
        run_sweep(load_scenario(TINY), out=str(tmp_path), executor="process", workers=-1)
    with pytest.raises(InputError, match="samples"):
        build_tasks(load_scenario(TINY), samples=3)


def test_core_mode_reads_length_means_and_the_failure_model_and_names_what_it_cannot(tmp_path):
    """Core mode priced a lognormal prompt of mean 800 at the cores' default 512, ignored training.reliability (goodput
    0.9901 at rate_scale 1 and 100 alike) and said nothing when a swept field could not reach it (serving.num_replicas;
    a helper's sweep audit)."""
    from costsim.api.run import load_scenario
    from costsim.sweep import run_sweep
    from costsim.sweep.points import evaluate_core, length_mean, reliability_fields

    chat = load_scenario("scenarios/chat-llama3-70b-h100.yaml")
    assert chat.serving.input_tokens.kind == "lognormal"
    row = evaluate_core(chat)
    assert row["serving_input_tokens"] == length_mean(chat.serving.input_tokens) == round(chat.serving.input_tokens.mean)
    tiny = load_scenario("tests/data/sweep-tiny-training.yaml")
    rel = reliability_fields(tiny.training)
    classes = tiny.training.reliability.failure_classes()
    assert rel["failure_rate_per_gpu_hour"] == pytest.approx(sum(c.rate_per_gpu_hour for c in classes) * tiny.training.reliability.rate_scale)
    calm = load_scenario("tests/data/sweep-tiny-training.yaml", ["training.reliability.rate_scale=0.5"])
    assert evaluate_core(calm)["training_goodput_frac"] > evaluate_core(tiny)["training_goodput_frac"]
    flaky = load_scenario("tests/data/sweep-tiny-training.yaml", ["training.reliability.rate_scale=100000"])
    with pytest.raises(InputError, match="1.97 interruptions per GPU-hour; the closed-form core takes at most 1"):
        reliability_fields(flaky.training)  # was clipped to 1 per GPU-hour silently: a healthier fleet than asked
    res = run_sweep(chat, out=str(tmp_path / "s"), mode="core", grid=parse_grid(["serving.num_replicas=4,8", "facility.pue=1.1,1.3"]))
    assert any(n.startswith("serving.num_replicas does not reach the closed-form cores") for n in res["notices"])
    assert not any(n.startswith("facility.pue") for n in res["notices"])


def test_an_out_holding_another_scenario_or_mode_is_refused(tmp_path):
    """A changed scenario file or the other --mode into the same --out mixed its rows in silently: the report averaged
    both and a resume counted the other scenario's points as done (a helper's sweep audit)."""
    from costsim.api.run import load_scenario
    from costsim.sweep import run_sweep

    out = str(tmp_path / "s")
    g = parse_grid(["training.num_gpus=1024,2048"])
    a = load_scenario("tests/data/sweep-tiny-training.yaml")
    run_sweep(a, out=out, grid=g, mode="core")
    assert run_sweep(a, out=out, grid=g, mode="core")["skipped_finished"] == 2  # the same sweep resumes
    b = load_scenario("tests/data/sweep-tiny-training.yaml", ["training.reliability.rate_scale=5"])
    with pytest.raises(InputError, match="holds a sweep of another scenario"):
        run_sweep(b, out=out, grid=g, mode="core")
    with pytest.raises(InputError, match="holds a --mode core sweep"):
        run_sweep(a, out=out, grid=g, mode="sim")


def test_a_grid_value_of_true_for_a_number_field_is_refused():
    """--grid serving.num_replicas=true,2 ran a point of 1 replica (true read as 1; found in the 2026-12-07 new-user pass)."""
    with pytest.raises(InputError, match="takes a number, not true / false"):
        parse_grid(["serving.num_replicas=true,2"])
    assert parse_grid(["training.mitigation.filler_during_restarts=true,false"])[0][1] == [True, False]  # a yes/no field keeps its words


def test_batch_side_inputs_refused_up_front(tmp_path, capsys):
    """From a helper's sweep audit: several ';'-separated statements printed only the last result; --sensitivity without
    an uncertainty section was ignored; optimize ran an unknown choice (precision fp99) to failure and exited 0; a Ray
    --address nobody answers hung for minutes."""
    from costsim.errors import InputError
    from costsim.sweep.executors import _reachable
    from costsim.sweep.store import ResultStore, query
    from tests.test_guards import _in_process

    ResultStore(tmp_path / "q").append([{"point_id": "a", "variant": "base", "x": 1}])
    with pytest.raises(InputError, match="one SQL statement per query"):
        query(tmp_path / "q", "SELECT 1; SELECT 2")
    assert query(tmp_path / "q", "SELECT x FROM points;")[1] == [(1,)]
    code, _, err = _in_process(["sweep", "tests/data/sweep-tiny-training.yaml", "--out", str(tmp_path / "s"),
                                "--grid", "training.num_gpus=512,1024", "--sensitivity"], capsys)
    assert code == 2 and "--sensitivity applies to the samples" in err
    code, _, err = _in_process(["optimize", "tests/data/optimize-tiny-training.yaml", "--out", str(tmp_path / "o"),
                                "--param", "training.precision=bf16,fp99", "--minimize", "usd", "--trials", "4"], capsys)
    assert code == 2 and "training.precision=fp99" in err
    with pytest.raises(InputError, match="no ray head answers there"):
        _reachable("127.0.0.1:1", "ray")


def test_sweep_report_opens_with_its_answer_and_reads_fields_in_words(tmp_path):
    """The sweep report put its answer after the swept-parameter table (and only the first variant's), named fields by
    their column keys (training_num_gpus), printed 5,233,000,000,000 for tokens, and left the --random inputs out of
    the uncertainty inputs table."""
    from costsim.api.run import load_scenario
    from costsim.report import write_sweep_report
    from costsim.sweep import run_sweep
    from costsim.sweep.uncertainty import analyze

    s = load_scenario("tests/data/sweep-tiny-training.yaml")
    out = tmp_path / "s"
    run_sweep(s, out=str(out), mode="core", grid=parse_grid(["training.num_gpus=1024,2048"]),
              random=parse_random(["training.tokens=1e10:4e10"]), samples=3)
    assert "points ran; the sensitivity charts" in write_sweep_report(out).read_text()  # no uncertainty.json yet
    analyze(out)
    page = write_sweep_report(out).read_text()
    answer, swept = page.index("class='answer'"), page.index("<h2>Swept parameters</h2>")
    assert answer < swept and "over the swept grid" in page[answer:swept]
    assert "Training: number of GPUs" in page and "<code>training.num_gpus</code>" in page
    assert "Training: tokens" in page and "random, 3 samples" in page
    inputs = page[page.index("<th>Input</th>"):]
    assert "uniform" in inputs[:inputs.index("</table>")] and "low 10B, high 40B" in inputs
    assert "param_training" not in page.replace("param_training_", "") and ">training_num_gpus<" not in page


BATCH_VS_POINT = {
    # a training stack of the scenario's own, a TPU's default stack, a LoRA run's adapter-only checkpoint
    "fsdp": {"training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 1024, "tokens": 1e12, "seq_len": 8192,
                          "framework": "fsdp-2023"}},
    "tpu": {"training": {"model": "llama-3-8b", "hardware": "tpu-v5p", "num_gpus": 256, "tokens": 1e12, "seq_len": 8192}},
    "lora": {"training": {"model": "llama-2-70b", "hardware": "h100-sxm", "num_gpus": 64, "tokens": 1e10, "seq_len": 4096,
                          "lora_rank": 16}},
    # an engine of the scenario's own; a GPU budget (the deployment search); a pipeline-parallel replica
    "vllm": {"serving": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1, "engine": "vllm",
                         "input_tokens": {"kind": "fixed", "mean": 800}, "output_tokens": {"kind": "fixed", "mean": 250}}},
    "budget": {"serving": {"model": "llama-3-70b", "hardware": "h100-sxm", "gpus": 64, "input_tokens": {"kind": "fixed", "mean": 800},
                           "output_tokens": {"kind": "fixed", "mean": 250}, "slo": {"ttft_s": 2.0, "tpot_s": 0.1}}},
    "pp2": {"serving": {"model": "llama-3-70b", "hardware": "h100-sxm", "num_replicas": 2, "gpus_per_replica": 8, "pp": 2,
                        "input_tokens": {"kind": "fixed", "mean": 800}, "output_tokens": {"kind": "fixed", "mean": 250}}},
}


@pytest.mark.parametrize("case", sorted(BATCH_VS_POINT))
def test_batched_core_sweep_prices_the_same_request_as_the_per_point_path(case, tmp_path):
    """The batched path (the default) passed framework 'megatron-core-2024' and engine 'default' over the scenario's
    own, priced a GPU budget as one replica of 64 GPUs (infeasible), refused a PP-2 replica (tp = gpus_per_replica) and
    checkpointed a LoRA run's whole model: 12-22 % off --no-batch, train and serve (a helper's cross-surface audit)."""
    from costsim.api.run import scenario_from_dict
    from costsim.sweep.store import load_rows

    s = scenario_from_dict({"name": case, **BATCH_VS_POINT[case]})
    rows = {}
    for batched in (True, False):
        out = tmp_path / str(batched)
        run_sweep(s, out=str(out), mode="core", grid=parse_grid(["facility.pue=1.1,1.3"]), batched=batched)
        rows[batched] = sorted(load_rows(out), key=lambda r: r["param_facility_pue"])
    for a, b in zip(rows[True], rows[False]):
        assert a["status"] == b["status"] == "ok", (a.get("error"), b.get("error"))
        for k in ("training_step_time_s", "training_cost_usd", "training_goodput_frac", "training_framework",
                  "serving_throughput_tokens_per_s", "serving_cost_usd_per_million_tokens", "serving_engine"):
            assert a.get(k) == pytest.approx(b.get(k), rel=1e-9) if isinstance(b.get(k), float) else a.get(k) == b.get(k), k


def test_a_serving_budget_leaves_pp_and_ep_to_the_search_and_the_output_spread_reaches_the_core():
    """serve_request copied the section's unset pp 1 / ep 1 into a GPU budget's request, so the core searched TP only
    (DeepSeek-V3 on 32 H200: 4 x TP8 at 15.6k tokens/s where serve --gpus 32 and the simulation pick 4 x EP8 at 24.3k);
    a lognormal output length's cv never reached the core's KV sizing (a helper's cross-surface audit)."""
    from costsim.api.run import scenario_from_dict
    from costsim.sweep.points import serve_request

    s = scenario_from_dict({"name": "moe", "serving": {
        "model": "deepseek-v3", "hardware": "h200", "gpus": 32, "input_tokens": {"kind": "fixed", "mean": 1000},
        "output_tokens": {"kind": "lognormal", "mean": 500, "cv": 1.0}, "slo": {"tpot_s": 0.1}}})
    req = serve_request(s)
    assert req.gpus == 32 and req.pp is None and req.ep is None and req.tp is None and req.deployment_search
    assert req.output_tokens_cv == 1.0
    fixed = scenario_from_dict({"name": "one", "serving": {"model": "llama-3-8b", "hardware": "h100-sxm", "gpus_per_replica": 2, "pp": 2}})
    assert serve_request(fixed).pp == 2 and serve_request(fixed).output_tokens_cv == 0.0  # an explicit layout is kept


def test_a_run_reads_a_budget_scenario_trust_range_at_the_searched_replica():
    """A GPU-budget scenario's trust range was read at the section's unset gpus_per_replica (1): 'serving, NVIDIA,
    1 device' for a deployment of 2-GPU replicas (a helper's cross-surface audit)."""
    from costsim.api.run import part_error_band, scenario_from_dict
    from costsim.api.trust import band_dict

    s = scenario_from_dict({"name": "b", "serving": {"model": "llama-3-70b", "hardware": "h100-sxm", "gpus": 64}})
    got = part_error_band("serving", s, summary={"deployment": {"gpus_per_replica": 8}})
    assert got == band_dict("serving", "h100-sxm", 8.0, "llama-3-70b", engine="default")
    assert got != band_dict("serving", "h100-sxm", 1.0, "llama-3-70b", engine="default")


def test_a_sweeps_points_read_with_pandas(tmp_path):
    """pandas.read_parquet(DIR/points) refused the store: the variant=<name> directory level is a dictionary column
    to pandas, the files held a plain string 'variant' (a helper's cross-surface audit)."""
    import pandas as pd

    from costsim.api.run import load_scenario

    out = tmp_path / "s"
    run_sweep(load_scenario("tests/data/sweep-tiny-training.yaml"), out=str(out), mode="core",
              grid=parse_grid(["training.num_gpus=1024,2048"]))
    df = pd.read_parquet(out / "points")
    assert len(df) == 2 and set(df["variant"].astype(str)) == {"base"}
    assert query(out, "SELECT count(*) FROM points WHERE variant = 'base'")[1] == [(2,)]


@pytest.mark.parametrize("batched", [True, False])
def test_a_sweep_with_failed_points_reads_whole_with_pandas(tmp_path, batched):
    """A file holding only failed points (11 columns per point, or metrics typed null in a batched group) made
    pandas.read_parquet(DIR/points) refuse the store ('Unsupported cast from double to null') or, when pyarrow met
    that file first, drop every column it lacks; the sweep now ends with one schema in every file."""
    import pandas as pd
    import pyarrow.parquet as pq

    from costsim.api.run import load_scenario
    from costsim.sweep.store import result_files

    out = tmp_path / "s"
    res = run_sweep(load_scenario("tests/data/sweep-tiny-training.yaml"), out=str(out), mode="core", batched=batched,
                    grid=parse_grid(["training.num_gpus=1024,0,2048"]), flush_every=1)
    assert res["errors"] == 1 and res["compacted"]["files_conformed"] >= 1
    schemas = [pq.read_schema(f).remove_metadata() for f in result_files(out)]
    assert len(schemas) >= 2 and all(s.equals(schemas[0]) for s in schemas)
    df = pd.read_parquet(out / "points")
    cols, _ = query(out, "SELECT * FROM points")
    assert len(df) == 3 and set(cols) <= set(df.columns)
    assert df["training_wall_time_s"].notna().sum() == 2 and (df["status"] == "error").sum() == 1


def test_a_core_sweep_of_an_explicit_serving_layout_says_its_throughput_is_one_replicas(tmp_path):
    """serving_throughput_tokens_per_s meant one replica in core mode with an explicit layout, the whole deployment
    with a GPU budget and the fleet in sim mode, and a core sweep said nothing (a helper's cross-surface audit)."""
    from costsim.api.run import load_scenario

    res = run_sweep(load_scenario("scenarios/chat-llama3-70b-h100.yaml"), out=str(tmp_path / "s"), mode="core",
                    grid=parse_grid(["facility.pue=1.1,1.2"]))
    assert any(n.startswith("core mode prices one replica of the scenario's layout") and "runs 8 replicas" in n
               for n in res["notices"])
    from costsim.api.run import scenario_from_dict

    budget = scenario_from_dict({"name": "b", "serving": {"model": "llama-3-70b", "hardware": "h100-sxm", "gpus": 16}})
    res = run_sweep(budget, out=str(tmp_path / "b"), mode="core", grid=parse_grid(["facility.pue=1.1,1.2"]))
    assert not any("one replica" in n for n in res["notices"])
