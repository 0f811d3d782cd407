"""Analytic goodput of a long synchronous training job (numpy; the training DES refines it).

Model (first-order Young 1974 / Daly 2006):
  job failure rate      lambda_job = failure_rate_per_gpu_hour * num_gpus / 3600      [1/s]
  mean time to failure  M = 1 / lambda_job
  checkpoint interval   tau = sqrt(2 * C * M)   (Young/Daly optimum, C = checkpoint write time)
  Over useful compute time T the job writes T/tau checkpoints (cost C each) and, over its wall
  time W, suffers W/M interruptions, each losing the restart time R plus on average half a
  checkpoint period of work, (tau + C)/2:
      W = T * (1 + C/tau) + (W/M) * (R + (tau + C)/2)
  =>  goodput_frac = T/W = (1 - (R + (tau + C)/2) / M) / (1 + C/tau)
  goodput is 0 when the loss per interruption exceeds the mean time between interruptions.
  Planned maintenance: m stops per day, each preceded by a checkpoint (no work lost), down D, then
  the restart R: a share m (C + D + R) / 86,400 s of the wall time, so
      goodput_frac = (1 - (R + (tau + C)/2) / M - m (C + D + R) / 86400) / (1 + C/tau)
  (the training simulation draws the same stops: training.maintenance).

Defaults (arXiv 2407.21783, Llama 3 Herd of Models, section 3.3.4; calibration/reliability.csv
R-llama3-interruptions): 419 unexpected interruptions in 54 days on 16,384 H100 GPUs
-> 419 / (16384 * 54 * 24) = 1.97e-5 interruptions per GPU-hour.
"""

from __future__ import annotations

import numpy as np

from costsim.units import S_PER_DAY

LLAMA3_UNEXPECTED_INTERRUPTIONS = 419
LLAMA3_NUM_GPUS = 16384
LLAMA3_DAYS = 54.0
DEFAULT_FAILURE_RATE_PER_GPU_HOUR = LLAMA3_UNEXPECTED_INTERRUPTIONS / (LLAMA3_NUM_GPUS * LLAMA3_DAYS * 24.0)
FAILURE_RATE_SOURCE = "Llama 3 (arXiv 2407.21783 sec. 3.3.4): 419 unexpected interruptions in 54 days on 16,384 GPUs"

# Restart: detect, drain, reschedule/replace the node, reload the checkpoint, warm up. Llama 3
# kept > 90% effective training time with 419 interruptions in 54 days, i.e. at most
# ~0.1*54*24*60/419 = 18.6 min lost per interruption including lost work; 10 min of restart
# leaves room for the lost half checkpoint period. Estimate.
DEFAULT_RESTART_TIME_S = 600.0
RESTART_SOURCE = "estimate bounded by Llama 3's >90% effective training time over 419 interruptions in 54 days (<= ~18.6 min lost each)"

# Planned interruptions: Llama 3's 47 in the same 54 days (arXiv 2407.21783 sec. 3.3.4, Table 5: automated
# maintenance and firmware / config pushes), each down 10 min before the restart (an assumption; the paper gives no time).
LLAMA3_PLANNED_INTERRUPTIONS = 47
DEFAULT_MAINTENANCE_PER_DAY = LLAMA3_PLANNED_INTERRUPTIONS / LLAMA3_DAYS
DEFAULT_MAINTENANCE_DOWNTIME_S = 600.0
MAINTENANCE_SOURCE = ("Llama 3 (arXiv 2407.21783 sec. 3.3.4): 47 planned interruptions in 54 days; each a checkpoint, "
                      "10 min down (assumption) and the restart")

# Checkpoint write bandwidth per GPU when none is given: Llama 3's Tectonic storage sustained
# 2 TB/s for 16,384 GPUs (arXiv 2407.21783 sec. 3.3.1) -> ~122 MB/s per GPU.
DEFAULT_CHECKPOINT_BYTES_PER_S_PER_GPU = 2.0e12 / 16384
CHECKPOINT_SOURCE = "checkpoint bytes / (num_gpus x 122 MB/s): Llama 3 storage sustained 2 TB/s for 16,384 GPUs (arXiv 2407.21783 sec. 3.3.1)"


def mean_time_to_failure_s(failure_rate_per_gpu_hour, num_gpus):
    lam = np.asarray(failure_rate_per_gpu_hour, float) * np.asarray(num_gpus, float) / 3600.0
    with np.errstate(divide="ignore"):
        return np.where(lam > 0, 1.0 / np.where(lam > 0, lam, 1.0), np.inf)


def young_daly_interval_s(checkpoint_time_s, mtbf_s):
    """tau = sqrt(2 C M)."""
    return np.sqrt(2.0 * np.asarray(checkpoint_time_s, float) * np.asarray(mtbf_s, float))


def goodput(failure_rate_per_gpu_hour, num_gpus, checkpoint_time_s, restart_time_s, run_compute_s=None,
            maintenance_per_day=0.0, maintenance_downtime_s=0.0) -> dict:
    """goodput_frac and its parts (see module docstring). `run_compute_s`: the run's productive time, where known; the
    checkpoint interval is then at most the run (a run shorter than the Young/Daly interval writes one checkpoint, at
    its end, and an interruption loses on average half of it). `maintenance_per_day` planned stops of
    `maintenance_downtime_s` each (plus a checkpoint before and the restart after)."""
    M = mean_time_to_failure_s(failure_rate_per_gpu_hour, num_gpus)
    C = np.asarray(checkpoint_time_s, float)
    R = np.asarray(restart_time_s, float)
    finite = np.isfinite(M)
    tau = np.where(finite, young_daly_interval_s(C, np.where(finite, M, 1.0)), np.inf)
    if run_compute_s is not None:
        tau = np.minimum(tau, np.asarray(run_compute_s, float))
    ckpt_overhead = np.where(finite & (tau > 0), C / np.where(tau > 0, tau, 1.0), 0.0)
    loss_per_failure = R + np.where(finite, (tau + C) / 2.0, 0.0)
    fail_frac = np.where(finite, loss_per_failure / np.where(finite, M, 1.0), 0.0)
    maint_frac = np.asarray(maintenance_per_day, float) / S_PER_DAY * (C + np.asarray(maintenance_downtime_s, float) + R)
    g = np.clip((1.0 - fail_frac - maint_frac) / (1.0 + ckpt_overhead), 0.0, 1.0)
    return {"goodput_frac": g, "mtbf_s": M, "checkpoint_interval_s": tau,
            "checkpoint_overhead_frac": ckpt_overhead, "failure_loss_frac": fail_frac,
            "loss_per_failure_s": loss_per_failure, "maintenance_loss_frac": maint_frac}


#: the goodput terms a result's breakdown reports (breakdowns.goodput)
BREAKDOWN_KEYS = ("mtbf_s", "checkpoint_interval_s", "checkpoint_overhead_frac", "failure_loss_frac", "loss_per_failure_s",
                  "maintenance_loss_frac")


def time_split_s(compute_time_s, wall_time_s, g: dict, checkpoint_time_s, restart_time_s,
                 maintenance_per_day=0.0, maintenance_downtime_s=0.0) -> dict:
    """Wall time split by what the GPUs do, the goodput model's own terms (`g` from goodput()):
    W = T (1 + C/tau) + (W/M) (R + tau/2 + C/2) + W m/86400 (C + D + R): productive steps T; checkpoint stalls
    T C/tau, the half checkpoint lost per interruption and the one before each planned stop; re-done work (W/M) tau/2,
    run again at step power; restarts after interruptions and planned stops; planned downtime W m/86400 D."""
    T = np.asarray(compute_time_s, float)
    W = np.asarray(wall_time_s, float)
    M = np.asarray(g["mtbf_s"], float)
    ok = np.isfinite(M) & (M > 0)
    n_fail = np.where(ok, W / np.where(ok, M, 1.0), 0.0)
    tau = np.where(np.isfinite(g["checkpoint_interval_s"]), g["checkpoint_interval_s"], 0.0)
    C, R = np.asarray(checkpoint_time_s, float), np.asarray(restart_time_s, float)
    n_stop = W * np.asarray(maintenance_per_day, float) / S_PER_DAY
    return {"productive_s": T, "checkpoint_stall_s": T * g["checkpoint_overhead_frac"] + n_fail * C / 2.0 + n_stop * C,
            "redone_s": n_fail * tau / 2.0, "restart_s": (n_fail + n_stop) * R,
            "maintenance_s": n_stop * np.asarray(maintenance_downtime_s, float)}


def expected_wall_s(run_compute_s, job_failure_rate_per_s, restart_s, interval_s, stall_s):
    """Expected wall time of `run_compute_s` of training with exponential job failures (rate lambda), a restart of
    R after each (failures can strike during a restart too), checkpoints every tau of compute costing C each: the run is
    T / tau segments of tau + C, and a segment of length x takes e^(lambda R) / lambda x (e^(lambda x) - 1) on average
    (the renewal argument of Daly 2006, section 3). inf where that overflows: the job would (almost) never finish, as
    when restarts are much longer than the time between failures. No failures: T (1 + C / tau)."""
    T = np.asarray(run_compute_s, float)
    lam = np.asarray(job_failure_rate_per_s, float)
    R, tau, C = (np.asarray(x, float) for x in (restart_s, interval_s, stall_s))
    tau = np.where(np.isfinite(tau) & (tau > 0), np.minimum(tau, np.maximum(T, 1e-300)), np.maximum(T, 1e-300))
    segments = T / tau
    x = tau + C
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        safe = np.where(lam > 0, lam, 1.0)
        per = np.exp(safe * R) / safe * np.expm1(safe * x)
        out = np.where(lam > 0, segments * per, segments * x)
    return np.where(np.isnan(out), np.inf, out)
