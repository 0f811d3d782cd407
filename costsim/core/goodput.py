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
  Planned maintenance stops are not counted here (the training simulation adds them: training.maintenance).

Defaults (arXiv 2407.21783, Llama 3 Herd of Models, section 3.3.4; calibration/reliability.csv
R-llama3-interruptions): 419 unexpected interruptions in 54 days on 16,384 H100 GPUs
-> 419 / (16384 * 54 * 24) = 1.97e-5 interruptions per GPU-hour.
"""

from __future__ import annotations

import numpy as np

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


def goodput(failure_rate_per_gpu_hour, num_gpus, checkpoint_time_s, restart_time_s, run_compute_s=None) -> dict:
    """goodput_frac and its parts (see module docstring). `run_compute_s`: the run's productive time, where known; the
    checkpoint interval is then at most the run (a run shorter than the Young/Daly interval writes one checkpoint, at
    its end, and an interruption loses on average half of it)."""
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
    g = np.clip((1.0 - fail_frac) / (1.0 + ckpt_overhead), 0.0, 1.0)
    return {"goodput_frac": g, "mtbf_s": M, "checkpoint_interval_s": tau,
            "checkpoint_overhead_frac": ckpt_overhead, "failure_loss_frac": fail_frac,
            "loss_per_failure_s": loss_per_failure}


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
