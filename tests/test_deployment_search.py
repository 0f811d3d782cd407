"""Deployment search for a GPU budget (issue 14): `costsim serve --gpus N`, `costsim.api.serve.search_deployment`,
the one layout check, scenarios and the serving simulation using the same search."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from costsim.api.serve import Deployment, DeploymentSearch, search_deployment, serve
from costsim.errors import InputError
from costsim.estimators import inference as est
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def test_issue_example_reports_a_multi_replica_deployment():
    """Issue 14: `costsim serve --model llama-2-70b --hardware h100-sxm --gpus 8 --weight-precision fp8`."""
    r = _cli("serve", "--model", "llama-2-70b", "--hardware", "h100-sxm", "--gpus", "8", "--weight-precision", "fp8", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    dep = doc["deployment"]
    for k in ("replicas", "gpus_per_replica", "tp", "pp", "ep", "weight_precision"):
        assert k in dep
    assert dep["replicas"] > 1 and dep["weight_precision"] == "fp8"
    assert dep["replicas"] * dep["gpus_per_replica"] <= 8 and dep["tp"] * dep["pp"] * dep["ep"] == dep["gpus_per_replica"]
    # throughput_tokens_per_s is the whole deployment's
    assert doc["throughput_tokens_per_s"] == pytest.approx(dep["replicas"] * doc["per_replica"]["throughput_tokens_per_s"])
    # ... and beats one TP-8 replica (the pre-search answer) by a wide margin
    one = serve(ServeRequest(model="llama-2-70b", hardware="h100-sxm", gpus=8, weight_precision="fp8", single_replica=True), with_curve=False)
    assert doc["throughput_tokens_per_s"] > 1.5 * one["throughput_tokens_per_s"]
    assert doc["runners_up"] and all(u["throughput_tokens_per_s"] <= doc["throughput_tokens_per_s"] * (1 + 1e-9) for u in doc["runners_up"])
    human = _cli("serve", "--model", "llama-2-70b", "--hardware", "h100-sxm", "--gpus", "8", "--weight-precision", "fp8")
    assert human.returncode == 0 and human.stdout.startswith("Best use of 8 x h100-sxm") and "runners-up" in human.stdout
    first = " ".join(human.stdout.split("\n\n")[0].split())  # the answer sentence, however the terminal wraps it
    assert f"{dep['replicas']} replicas of {dep['gpus_per_replica']} GPUs" in first and " serve " in first and "(s)" not in first


def test_headline_counts_read_in_the_singular():
    from costsim.report.answers import serve_answer as _headline
    from costsim.report.fmt import plural

    assert [plural(1, "replica"), plural(2, "replica"), plural(1024, "GPU"), plural(0, "wave")] == [
        "1 replica", "2 replicas", "1,024 GPUs", "0 waves"]
    r = {"gpus": 14, "hardware": "h100-sxm", "model": "llama-3.1-405b", "throughput_tokens_per_s": 2960.0,
         "deployment": {"replicas": 1, "gpus_per_replica": 8, "gpus_idle": 6, "tp": 1, "pp": 8, "ep": 1, "weight_precision": "fp8"}}
    line = _headline(r)
    assert "1 replica of 8 GPUs" in line and "(6 GPUs idle) serves" in line
    r["deployment"].update(replicas=1, gpus_per_replica=1, gpus_idle=1)
    assert "1 replica of 1 GPU (" in _headline(r) and "(1 GPU idle)" in _headline(r)


def test_single_replica_flag_keeps_the_old_behaviour():
    r = serve(ServeRequest(model="llama-2-70b", hardware="h100-sxm", gpus=8, weight_precision="fp8", single_replica=True), with_curve=False)
    assert "deployment" not in r and r["layout"]["tp"] == 8 and r["gpus"] == 8


def test_vectorized_search_equals_the_scalar_estimate():
    """Every deployment the vectorized search reports is what `estimate_serve` gives for that one replica."""
    s = search_deployment("llama-3.1-70b", "h100-sxm", 8, input_tokens=1000, output_tokens=500, weight_precision="fp8", runners_up=5)
    assert isinstance(s, DeploymentSearch) and isinstance(s.chosen, Deployment)
    for d in (s.chosen, *s.runners_up):
        one = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=d.gpus_per_replica, tp=d.tp, pp=d.pp, ep=d.ep,
                                 weight_precision=d.weight_precision, batch=d.batch_per_replica, input_tokens=1000, output_tokens=500,
                                 single_replica=True), with_curve=False)
        assert one["throughput_tokens_per_s"] == pytest.approx(d.throughput_tokens_per_s_per_replica, rel=1e-9)
        assert one["tpot_s"] == pytest.approx(d.tpot_s, rel=1e-9)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(min_value=1, max_value=24))
def test_more_gpus_never_lower_the_best_throughput(n):
    a = search_deployment("llama-3.1-8b", "h100-sxm", n, input_tokens=512, output_tokens=256, weight_precision="bf16", runners_up=0)
    b = search_deployment("llama-3.1-8b", "h100-sxm", n + 1, input_tokens=512, output_tokens=256, weight_precision="bf16", runners_up=0)
    assert b.chosen.throughput_tokens_per_s >= a.chosen.throughput_tokens_per_s * (1 - 1e-12)
    assert a.chosen.gpus_used + a.chosen.gpus_idle == n


def test_slos_bound_every_replica_and_infeasible_is_a_result():
    s = search_deployment("llama-3.1-70b", "h100-sxm", 8, input_tokens=512, output_tokens=256, weight_precision="fp8",
                          tpot_slo_s=0.03, ttft_slo_s=0.5)
    assert s.feasible and s.chosen.tpot_s <= 0.03 and s.chosen.ttft_s <= 0.5
    assert all(d.tpot_s <= 0.03 for d in s.runners_up)
    bad = search_deployment("llama-3.1-70b", "h100-sxm", 8, input_tokens=512, output_tokens=256, tpot_slo_s=1e-4)
    assert not bad.feasible and bad.chosen is None and "SLO" in bad.reason
    r = _cli("serve", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--gpus", "8", "--tpot-slo-s", "1e-4", "--json")
    assert r.returncode == 3 and json.loads(r.stdout)["feasible"] is False


def test_precision_is_searched_among_native_formats():
    b = search_deployment("llama-3.1-70b", "b200", 8, input_tokens=512, output_tokens=256)
    assert b.chosen.weight_precision == "fp4" and b.chosen.compute_dtype == "fp4"
    h = search_deployment("llama-3.1-70b", "h100-sxm", 8, input_tokens=512, output_tokens=256, runners_up=10)
    assert {d.weight_precision for d in (h.chosen, *h.runners_up)} <= {"bf16", "fp8"}
    r = serve(ServeRequest(model="llama-3.1-70b", hardware="b200", gpus=8), with_curve=False)
    assert r["deployment"]["searched_weight_precision"] is True


def test_usd_per_token_objective_ranks_by_cost():
    s = search_deployment("llama-3.1-8b", "h100-sxm", 8, input_tokens=512, output_tokens=256, objective="usd_per_token", runners_up=6)
    costs = [d.usd_per_million_tokens for d in (s.chosen, *s.runners_up)]
    assert costs == sorted(costs)
    with pytest.raises(InputError) as e:
        search_deployment("llama-3.1-8b", "h20", 8, objective="usd_per_token")  # the H20 profile has no price
    assert e.value.field == "objective"


def test_fixed_dimensions_constrain_the_search_and_modelspec_objects_work():
    s = search_deployment("mixtral-8x7b", "h100-sxm", 8, tp=2, input_tokens=512, output_tokens=256, runners_up=8)
    assert all(d.tp == 2 for d in (s.chosen, *s.runners_up))
    m = get_model("llama-3.1-8b").model_copy(update={"id": None, "name": "hypothetical 8B"})
    s2 = search_deployment(m, get_accelerator("h100-sxm"), 4)
    assert s2.feasible and s2.chosen.replicas == 4


def test_layout_problems_is_the_one_check():
    m, a = get_model("llama-3.1-70b"), get_accelerator("h100-sxm")
    f = est.layout_problems(m, a, np.array([1, 3, 16, 8]), np.array([1, 1, 1, 100]), 1)
    assert f[0] == 0 and f[1] & est.LAYOUT_TP_HEADS and f[2] == 0 and f[3] & est.LAYOUT_PP_LAYERS  # 16: two whole nodes
    gpt3 = get_model("gpt-3-175b")  # 96 heads: tp 12 divides them but fills one and a half 8-GPU nodes
    assert est.layout_problems(gpt3, a, 12) & est.LAYOUT_TP_DOMAIN and est.layout_problems(gpt3, a, 24) == 0
    assert est.layout_problems(m, a, 1, 1, 2) & est.LAYOUT_EP_DENSE
    ci = est.core_inputs(get_model("llama-3.1-405b"), a, "fp8")
    assert est.layout_problems(get_model("llama-3.1-405b"), a, 1, fit=ci, context_tokens=2048) & est.LAYOUT_MEMORY
    with pytest.raises(InputError) as e:
        est.check_layout(gpt3, a, 12, 12, 1, 1)
    assert e.value.field == "tp" and "scale-up domain" in e.value.message and "multiple of 8" in e.value.message
    r = _cli("serve", "--model", "gpt-3-175b", "--hardware", "h100-sxm", "--gpus", "12", "--tp", "12", "--single-replica")
    assert r.returncode == 2 and "scale-up domain" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["--gpus", "0"], "gpus"),
    (["--gpus", "-4"], "gpus"),
    (["--gpus", "nan"], "--gpus"),
    (["--gpus", "2.5"], "--gpus"),
    (["--gpus", "8", "--objective", "fastest"], "objective"),
    (["--gpus", "8", "--engine", "x" * 5000], "engine"),
    (["--engine", "nope"], "engine"),
    (["--gpus", "8", "--runners-up", "500"], "runners_up"),
    (["--gpus", "2", "--tp", "4", "--pp", "2"], "budget"),
    (["--hardware", "mi300x", "--engine", "tensorrt-llm"], "engine"),
    (["--gpus", "8", "--tp", "3"], "tp"),
    (["--gpus", "16", "--ep", "2"], "ep"),
])
def test_bad_input_exits_2_without_traceback(args, needle):
    base = ["serve", "--model", "llama-3.1-8b"] + ([] if "--hardware" in args else ["--hardware", "h100-sxm"])
    r = _cli(*base, *args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr and len(r.stderr) < 2000


def test_scenario_with_a_gpu_budget_gets_the_searched_deployment():
    from costsim.sim.serving import searched_deployment, simulate_serving
    from costsim.specs.scenario import Scenario

    serving = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "gpus": 4, "engine": "vllm",
               "arrivals": {"process": "poisson", "rate_per_s": 20.0},
               "input_tokens": {"kind": "fixed", "mean": 256}, "output_tokens": {"kind": "fixed", "mean": 128}}
    sc = Scenario.model_validate({"name": "budget", "serving": serving, "simulation": {"duration_s": 20.0}})
    found = searched_deployment(sc.serving, get_model("llama-3.1-8b"))
    out = simulate_serving(sc, seed=0).summary
    assert out["feasible"] and out["deployment"]["replicas"] == found.chosen.replicas == 4
    assert out["deployment"]["weight_precision"] == found.chosen.weight_precision
    with pytest.raises(Exception) as e:
        Scenario.model_validate({"name": "both", "serving": dict(serving, num_replicas=2), "simulation": {"duration_s": 20.0}})
    assert "budget" in str(e.value)
    # an explicit layout (pp across stages) still runs
    explicit = dict(serving, gpus=None, num_replicas=1, gpus_per_replica=2, pp=2)
    out2 = simulate_serving(Scenario.model_validate({"name": "pp", "serving": explicit, "simulation": {"duration_s": 10.0}}), seed=0).summary
    assert out2["feasible"] and "deployment" not in out2


def test_a_gpu_budget_scenario_survives_its_own_dump_variants_and_sweeps(tmp_path):
    """Variants, sweep points and the resolved scenario re-validate a dump: the layout fields left at their defaults
    under serving.gpus must not read as given (they did: every sweep point and any variant exited 2)."""
    from costsim.api.run import variant_scenarios
    from costsim.specs.scenario import Scenario
    import yaml

    serving = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "gpus": 8,
               "arrivals": {"process": "poisson", "rate_per_s": 20.0},
               "input_tokens": {"kind": "fixed", "mean": 256}, "output_tokens": {"kind": "fixed", "mean": 128}}
    sc = Scenario.model_validate({"name": "budget", "serving": serving, "simulation": {"duration_s": 20.0},
                                  "variants": [{"name": "r10", "set": {"serving.arrivals.rate_per_s": 10.0}}]})
    again = Scenario.model_validate(sc.model_dump(mode="json"))
    assert again.serving.gpus == 8 and again.serving.single_replica is False
    assert [n for n, _ in variant_scenarios(sc)] == ["base", "r10"]
    f = tmp_path / "budget.yaml"
    f.write_text(yaml.safe_dump({"name": "budget", "serving": serving, "simulation": {"duration_s": 20.0}}))
    r = _cli("sweep", str(f), "--grid", "serving.arrivals.rate_per_s=5,10", "--mode", "core", "--out", str(tmp_path / "sw"))
    assert r.returncode == 0 and "2 run (0 failed)" in r.stdout + r.stderr, r.stdout + r.stderr
    # a layout the user gives beside the budget is still refused
    with pytest.raises(Exception, match="budget"):
        Scenario.model_validate({"name": "both", "serving": dict(serving, gpus_per_replica=2), "simulation": {"duration_s": 20.0}})


def test_hardware_show_lists_fp4():
    r = _cli("hardware", "show", "b200")
    assert r.returncode == 0 and "FP4 9 PFLOP/s" in r.stdout and "FP6" in r.stdout


def test_serve_page_deployment_widgets():
    """The app's serve page: engine select and the GPU-budget search (AppTest, the same API call as the CLI)."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("costsim/ui/pages/serve.py").run()
    assert not at.exception
    at.checkbox(key="serve_deployment_search").check().run()
    at.selectbox(key="serve_gpus").set_value(8).run()
    assert not at.exception, [e.value for e in at.exception]
    res = at.session_state["serve_result"]
    assert res["deployment"]["gpus_used"] <= 8 and res["gpus"] == 8
    assert any("Best use of 8 x" in m.value for m in at.markdown)  # the CLI's answer sentence, first
    before = res["throughput_tokens_per_s"]
    at.selectbox(key="serve_engine").set_value("vllm").run()
    assert not at.exception
    assert at.session_state["serve_result"]["engine"] == "vllm"
    assert at.session_state["serve_result"]["throughput_tokens_per_s"] < before


def test_serve_page_searches_precision_as_the_cli_and_its_link_keeps_the_demand():
    """Ticking the deployment search left the weight precision on bf16 (widgets are seeded once), so the page's best
    8-GPU deployment of Llama 3 70B was half the CLI's (9.5k vs 18.5k tokens/s, fp8 searched); and a share link
    dropped the demand, so the replicas it needs came back for 100 requests/s (a helper's app sweep)."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.run()
    at.switch_page("costsim/ui/pages/serve.py").run()
    at.checkbox(key="serve_deployment_search").check().run()
    at.selectbox(key="serve_gpus").set_value(8).run()
    at.number_input(key="serve_demand").set_value(40.0).run()
    assert not at.exception, [e.value for e in at.exception]
    res = at.session_state["serve_result"]
    cli = serve(ServeRequest(model="llama-3-70b", hardware="h100-sxm", gpus=8, input_tokens=512, output_tokens=256))
    assert res["deployment"] == cli["deployment"] and res["throughput_tokens_per_s"] == pytest.approx(cli["throughput_tokens_per_s"])
    assert at.query_params["demand"] == ["40"] or at.query_params["demand"] == "40"
    token = at.query_params["serve"]
    again = AppTest.from_file(app, default_timeout=120)
    again.query_params["serve"] = token[0] if isinstance(token, list) else token
    again.query_params["demand"] = "40"
    again.run()
    again.switch_page("costsim/ui/pages/serve.py").run()
    assert not again.exception
    assert again.number_input(key="serve_demand").value == 40.0
    assert again.session_state["serve_result"]["deployment"] == cli["deployment"]
    bad = AppTest.from_file(app, default_timeout=120)
    bad.query_params["demand"] = "nan"
    bad.run()
    bad.switch_page("costsim/ui/pages/serve.py").run()
    said = "'Demand, requests/s' must be a number from 0 to 1,000,000,000 (the link gives nan)"  # by its label
    assert not bad.exception and any(said in x.value for x in bad.warning), [x.value for x in bad.warning]


def test_a_replica_across_nodes_says_so_and_pays_the_network():
    """DeepSeek-V3 on two 8-GPU H100 nodes: the chosen replica spans 2 scale-up domains (JSON and the table say so);
    the expert-parallel-16 layout, whose all-to-all crosses the NICs, is no longer priced at NVLink speed and loses to a
    pipeline stage per node; one node's replica spans one domain."""
    r = _cli("serve", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--gpus", "16", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["deployment"]["scaleup_domains_per_replica"] == 2 and d["deployment"]["pp"] >= 2
    ep16 = [x for x in d["runners_up"] if x.get("ep") == 16 and x.get("pp") == 1]
    assert ep16 and all(x["throughput_tokens_per_s"] < d["throughput_tokens_per_s"] for x in ep16)
    r8 = _cli("serve", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--gpus", "8", "--json")
    assert json.loads(r8.stdout)["deployment"]["scaleup_domains_per_replica"] == 1
    txt = _cli("serve", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--gpus", "16")
    flat = " ".join(txt.stdout.replace("│", " ").split())
    assert "scale-up domains" in flat and "network" in flat


def test_tensor_parallelism_on_pcie_parts_stays_in_the_server():
    """Parts without NVLink (L40S: PCIe, a 1-device scale-up domain) run tensor parallelism inside their 8-GPU server,
    as NVIDIA's own TensorRT-LLM tables do (TP4 / TP8 on L40S, validation cases I-trt017-*-l40s-*): the CLI prices
    --tp 4 and refuses --tp 12 (one and a half servers) naming the server; the one check says the same."""
    r = _cli("serve", "--model", "llama-3.1-70b", "--hardware", "l40s", "--gpus", "4", "--tp", "4", "--single-replica",
             "--weight-precision", "fp8", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["throughput_tokens_per_s"] > 0
    gpt3 = get_model("gpt-3-175b")
    r12 = _cli("serve", "--model", "gpt-3-175b", "--hardware", "l40s", "--gpus", "12", "--tp", "12", "--single-replica")
    assert r12.returncode == 2 and "8-device scale-up domain" in r12.stderr and "server" in r12.stderr
    f = est.layout_problems(gpt3, get_accelerator("l40s"), np.array([2, 4, 8, 12]), 1, 1)
    assert list(f[:3]) == [0, 0, 0] and f[3] & est.LAYOUT_TP_DOMAIN
    # NVLink-bridged PCIe pairs (H100 PCIe): TP 2 on the bridge, TP 4 / 8 as whole pairs priced across them (not at
    # the bridge's rate); a lone consumer GPU has no tensor parallelism at all
    assert est.network_parameters(get_accelerator("h100-pcie"))["local_group_size"] == 2.0
    r4090 = _cli("serve", "--model", "llama-3.1-8b", "--hardware", "rtx-4090", "--gpus", "2", "--tp", "2", "--single-replica")
    assert r4090.returncode == 2 and "no scale-up fabric" in r4090.stderr


def test_tensor_parallelism_across_whole_nodes_is_priced_over_the_network():
    """TP 16 over two 8-GPU H100 nodes (SGLang's DeepSeek-V3 recipe): priced, not refused; every layer's all-reduce
    crosses the NICs (hierarchical: NVLink inside, each GPU's 1/8 share across over its own NIC), slower than one
    NVLink domain would be, and the search keeps a pipeline stage per node."""
    from dataclasses import replace

    from costsim.core import inference as core
    r = _cli("serve", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--gpus", "16", "--tp", "16", "--single-replica",
             "--weight-precision", "fp8", "--json")
    assert r.returncode == 0, r.stderr
    tp16 = json.loads(r.stdout)["throughput_tokens_per_s"]
    best = json.loads(_cli("serve", "--model", "deepseek-v3", "--hardware", "h100-sxm", "--gpus", "16", "--json").stdout)
    assert best["deployment"]["tp"] <= 8 and best["throughput_tokens_per_s"] > tp16
    dev = est.device_from_accelerator(get_accelerator("h100-sxm"), "fp8")[0]
    B = 8e6
    two = float(core.allreduce_time_s(B, 16, dev))
    one = float(core.allreduce_time_s(B, 16, replace(dev, local_group_size=np.inf)))
    assert two > 1.2 * one  # the NVLink stage plus each GPU's 1/8 share over its own NIC
    assert float(core.allreduce_time_s(B, 8, dev)) == pytest.approx(float(core.allreduce_time_s(B, 8, replace(dev, local_group_size=np.inf))))


def test_deployment_search_prices_the_output_length_spread():
    """The search ranks deployments on the same curve: a spread of output lengths (cv) lowers the throughput of a
    long-answer workload; 0 is the identical-requests search."""
    kw = dict(input_tokens=800, output_tokens=4000, weight_precision="fp8", runners_up=0)
    s0 = search_deployment("qwen3-30b-a3b", "h100-sxm", 2, **kw)
    s1 = search_deployment("qwen3-30b-a3b", "h100-sxm", 2, output_tokens_cv=1.25, **kw)
    assert s0.feasible and s1.feasible
    assert s1.chosen.throughput_tokens_per_s < s0.chosen.throughput_tokens_per_s
    with pytest.raises(InputError):
        search_deployment("qwen3-30b-a3b", "h100-sxm", 2, output_tokens_cv=-0.5, **kw)


def test_a_replica_is_priced_at_its_own_largest_batch_whatever_the_budget():
    """The search's shared batch grid held only the largest candidate's memory limit, so one H100 running Llama 3 8B
    FP8 was priced at batch 1,311 inside an 8-GPU budget where `--gpus 1` priced it at its 1,397 (a helper's sweep)."""
    one = search_deployment(get_model("llama-3-8b"), get_accelerator("h100-sxm"), 1, runners_up=0)
    eight = search_deployment(get_model("llama-3-8b"), get_accelerator("h100-sxm"), 8, runners_up=0)
    a, b = one.chosen, eight.chosen
    assert (a.tp, a.pp, a.ep, a.weight_precision) == (b.tp, b.pp, b.ep, b.weight_precision) and b.replicas == 8
    assert b.batch_per_replica == a.batch_per_replica
    assert b.throughput_tokens_per_s == pytest.approx(8 * a.throughput_tokens_per_s, rel=1e-9)


def test_the_budgets_idle_gpus_are_paid_for_in_the_cost_per_token():
    # 7 H100 at TP2: three replicas use six, the seventh idles but is rented / owned all the same
    m, a = get_model("llama-3.1-8b"), get_accelerator("h100-sxm")
    six = search_deployment(m, a, 6, input_tokens=512, output_tokens=256, tp=2, weight_precision="fp8")
    seven = search_deployment(m, a, 7, input_tokens=512, output_tokens=256, tp=2, weight_precision="fp8")
    assert (seven.chosen.replicas, seven.chosen.gpus_idle) == (3, 1)
    assert seven.chosen.throughput_tokens_per_s == pytest.approx(six.chosen.throughput_tokens_per_s)
    # an idle GPU costs its rent (the default pricing: as much as a busy one), or its capital and idle power
    ratio = seven.chosen.usd_per_million_tokens / six.chosen.usd_per_million_tokens
    assert ratio == pytest.approx(7.0 / 6.0, rel=1e-9)
    r6 = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=6, tp=2, weight_precision="fp8"))
    r7 = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=7, tp=2, weight_precision="fp8"))
    share = r7["idle_gpus"]
    assert share["gpus"] == 1 and "idle_gpus" not in r6
    assert r7["cost_usd_per_million_tokens"] == pytest.approx(r6["cost_usd_per_million_tokens"]
                                                             + share["cost_usd_per_million_tokens"], rel=1e-6)
    assert r7["facility_energy_per_token_j"] == pytest.approx(r6["facility_energy_per_token_j"]
                                                             + share["facility_energy_per_token_j"], rel=1e-6)
    assert r7["cost_usd_per_million_tokens"] / r6["cost_usd_per_million_tokens"] == pytest.approx(ratio, rel=0.05)
