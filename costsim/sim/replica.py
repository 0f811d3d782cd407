"""One serving replica driven by SimPy timeouts: iteration-level (continuous) batching as in vLLM.

Event mechanics (public SimPy API only: env.timeout + Event.callbacks; no Process internals): each
iteration or decode run is one timeout whose callback ends it and starts the next. An arrival that
cuts a decode run schedules a new timeout at the next iteration boundary and makes it the run's
current end; the run's original timeout still fires later, sees it is stale and does nothing.
A decode run's energy and tokens are booked once, when it ends (a cut run books only the steps it
ran; a run open at the end of the window is booked by close_run()).

State per replica (requests are integer ids into the run's ledger; no per-request processes):
  waiting    FIFO of ids needing a prefill (new, or preempted with 'recompute': prompt + tokens so far)
  swapped    FIFO of ids preempted with 'swap' (KV in host memory)
  kv_ready   FIFO of ids whose KV waits on a prefill replica for this one to pull it (disaggregation, decode role)
  prefilling chunked prompts in progress: [id, tokens_done, tokens_total]
  running    decoding sequences: id -> (context - S at join, finish step, generation)
             with S the replica's decode-iteration counter; a sequence's context is kdelta + S,
             the sum of contexts is K + B*S, and a heap gives the next finish step.

Iterations:
  * mixed / prefill iteration (one step): decode tokens of the running batch (paused when chunked
    prefill is off) + prefill tokens within the token budget (max_num_batched_tokens); time
    = table.mixed_all(B, mean context, prefill tokens) (as mixed_s, with power and work).
  * decode run: when no prefill can be admitted, k identical-shape decode iterations are taken as
    one event, k = steps until the next sequence finishes or the KV cache fills; its time uses the
    table at the run's mid context (decode time is linear in context). An arrival that could be
    admitted interrupts the run at the next iteration boundary, as in vLLM. This is exact for the
    iteration schedule and keeps events per request O(1).
KV cache: blocks of kv_block_tokens; blocks in use are bounded above by tokens/block + one partial
block per sequence; admission needs room for the whole prompt plus a 1 % watermark; when a decode
step would not fit, the newest running sequence is preempted (vLLM's policy), by recompute or swap.
Disaggregation (pull, as vLLM's NIXL connector and Mooncake): a prefill replica keeps a finished prompt's KV
(`outbound`) until a decode replica has room for it and has copied it; the decode replica reserves the blocks when
it starts the copy (`receiving`), and the sequence joins its batch when the copy ends. A decode pool that cannot
keep up so fills its prefill replicas' memory, and they stop taking prompts. A sequence a decode replica preempts
by recompute is prefilled again there.
"""

from __future__ import annotations

import heapq
from collections import deque

import simpy

NAN = float("nan")


def room_tokens(table, sched) -> float:
    """The most tokens one sequence can be admitted with into an otherwise empty replica's KV cache: whole blocks,
    less the sequence's partial block and linear-attention state, and the admission margin of Replica._fits (one
    block and the 1 % watermark), so a request routed by it can always be admitted (and readmitted after a
    preemption) once the replica is empty."""
    bs = sched.kv_block_tokens
    cap_blocks = int(table.kv_capacity_tokens // bs)
    seq_blocks = 1.0 + float(table.state_tokens_per_sequence) / bs  # as Replica.seq_blocks
    return (cap_blocks - seq_blocks - 1 - _watermark(cap_blocks)) * bs


def _watermark(cap_blocks: int) -> int:
    """Blocks kept free at admission (vLLM's 1 % watermark, at least one)."""
    return max(1, int(0.01 * cap_blocks))


class LeastLoaded:
    """Replicas bucketed by outstanding requests: O(1) pick of a least-loaded replica."""

    __slots__ = ("buckets", "count", "min")

    def __init__(self) -> None:
        self.buckets: list[set] = [set()]
        self.count: dict[int, int] = {}
        self.min = 0

    def add(self, r: int, c: int) -> None:
        while c >= len(self.buckets):
            self.buckets.append(set())
        self.buckets[c].add(r)
        self.count[r] = c
        if c < self.min:
            self.min = c

    def remove(self, r: int) -> None:
        c = self.count.pop(r, None)
        if c is not None:
            self.buckets[c].discard(r)

    def inc(self, r: int) -> None:
        c = self.count.get(r)
        if c is None:
            return
        self.buckets[c].discard(r)
        c += 1
        if c == len(self.buckets):
            self.buckets.append(set())
        self.buckets[c].add(r)
        self.count[r] = c

    def dec(self, r: int) -> None:
        c = self.count.get(r)
        if c is None:
            return
        self.buckets[c].discard(r)
        c -= 1
        self.buckets[c].add(r)
        self.count[r] = c
        if c < self.min:
            self.min = c

    def pick(self) -> tuple[int, int] | None:
        b = self.buckets
        while self.min < len(b) and not b[self.min]:
            self.min += 1
        if self.min >= len(b):
            self.min = 0
            return None
        return next(iter(b[self.min])), self.min


class Replica:
    """A replica of `table.gpus` accelerators running one model copy."""

    def __init__(self, env: simpy.Environment, idx: int, group: int, table, sched, role: str, fleet) -> None:
        self.env = env
        self.idx = idx
        self.group = group
        self.t = table
        self.role = role  # 'mixed' | 'prefill' | 'decode'
        self.fleet = fleet
        self.max_tokens = sched.max_num_batched_tokens
        self.max_seqs = min(sched.max_num_seqs, table.max_batch)
        self.chunked = sched.chunked_prefill
        self.swap_mode = sched.preemption == "swap"
        self.bs = sched.kv_block_tokens
        self.cap_blocks = int(table.kv_capacity_tokens // self.bs)
        # blocks a sequence holds beyond its tokens: one partial block, plus its linear-attention state (hybrid models)
        self.seq_blocks = 1.0 + float(table.state_tokens_per_sequence) / self.bs
        self.room_tokens = room_tokens(table, sched)
        self.watermark = _watermark(self.cap_blocks)
        self.swap_bps = sched.swap_bytes_per_s
        self.waiting: deque = deque()
        self.swapped: deque = deque()
        self.kv_ready: deque = deque()
        self.prefilling: list = []  # [rid, prompt tokens done, prompt tokens, last chunk's tokens]
        # prompts whose last chunk is still crossing the pipeline's later stages (pipeline_trip_s), then those through
        # it waiting for the next iteration to join the decode batch; their KV stays reserved in pre_tokens
        self.crossing = 0
        self.joining: deque = deque()
        self.pre_tokens = 0  # prompt tokens reserved by prefilling sequences (and by outbound / receiving KV)
        self.outbound = 0  # prefill role: prompts done whose KV waits here for a decode replica to copy it
        self.receiving = 0  # decode role: sequences whose KV is being copied in from a prefill replica
        self.running: dict = {}
        self.heap: list = []
        self.S = 0
        self.K = 0
        self.gen_no = 0
        self.outstanding = 0
        self.state = "off"  # off | starting | active | draining
        self.boot_token = 0  # which boot of a 'starting' replica is current (a cancelled boot's event is stale)
        self.sleeping = False
        self.interruptible = False
        self.cur = None  # the timeout ending the decode run in progress
        self.iter_b = 0
        self.run_b = 0
        self.run_pw = 0.0
        self.run_end = 0.0
        self.run_t0 = 0.0
        self.pending_s = 0.0  # swap copy time to charge to the next iteration
        self.num_preemptions = 0
        self.run_start = 0.0
        self.run_step = 1.0
        self.run_k = 0
        self.run_done = 0
        self.run_fl = 0.0  # decode run: peak-GPU-seconds of FLOPs per step (FLOPs / peak FLOP/s, all GPUs)
        self.run_by = 0.0  # decode run: peak-GPU-seconds of HBM traffic per step (bytes / peak B/s, all GPUs)
        self.run_kv0 = 0.0  # decode run: KV blocks in use at its start
        # per-GPU work of a table cell -> replica GPU-seconds at peak (MFU / bandwidth-utilization numerators)
        self.kf = table.gpus / table.peak_flop_per_s if table.peak_flop_per_s > 0 else 0.0
        self.kb = table.gpus / table.peak_bytes_per_s if table.peak_bytes_per_s > 0 else 0.0

    # ---- control ---------------------------------------------------------------------------
    def start(self) -> None:
        """Begin the iteration loop now (an idle replica goes to sleep at once)."""
        self._step()

    def notify(self) -> None:
        """Work arrived: wake an idle replica (at the current time, after the caller), or end a
        decode run at the next iteration boundary (a new timeout there becomes the run's end)."""
        if self.sleeping:
            self.sleeping = False
            ev = self.env.timeout(0.0)
            ev.callbacks.append(self._wake)
        elif self.interruptible:
            self.interruptible = False
            env = self.env
            el = env.now - self.run_start
            done = int(el / self.run_step) + 1 if el >= 0 else 1
            if done >= self.run_k:
                return
            new = env.timeout(self.run_start + done * self.run_step - env.now)
            new.callbacks.append(self._end_decode)
            self.cur = new
            self.run_done = done

    def queue_len(self) -> int:
        return len(self.waiting) + len(self.swapped) + len(self.kv_ready)

    def occupancy_frac(self) -> float:
        """What the autoscaler's target_utilization reads: for a replica that decodes, the larger of batch slots and
        KV blocks in use; for a prefill replica (disaggregation), the larger of the prompt tokens it has left to
        prefill (queued and in progress) per iteration's token budget, so a backlog reads full (its batch slots stay
        near empty however long the queue), and the KV blocks it holds, those of finished prompts waiting for a decode
        replica to copy them (outbound) included: a prefill replica whose memory holds KV for the decode side cannot
        take prompts, and reads full (it read its prompt backlog alone, 0 with an empty queue and full memory). A decode
        replica with KV queued for it that it has no slot or room for reads full (1): its blocks in use stop short of
        the capacity by less than a sequence, which read below a high target however long the KV waited."""
        kv = self._used_blocks() / max(self.cap_blocks, 1)
        if self.role == "prefill":
            f = self.fleet
            left = sum(item[2] - item[1] for item in self.prefilling) + sum(f.inp[rid] + f.gen[rid] for rid in self.waiting)
            return max(left / self.max_tokens, kv)
        if self.kv_waits_for_room() or self.queue_waits_for_room():
            return 1.0
        return max(len(self.running) / self.max_seqs, kv)

    def queue_waits_for_room(self) -> bool:
        """Mixed role: the request at the head of its queue waits because the replica has no batch slot or no KV room
        for it (as kv_waits_for_room on the decode side): its blocks in use stop short of the capacity by less than a
        request, which read below a high target_utilization however long the queue (helper audit, 2026-12-08)."""
        if self.role != "mixed" or not self.waiting:
            return False
        rid = self.waiting[0]
        return (len(self.running) + self._held() >= self.max_seqs
                or not self._fits(self.fleet.inp[rid] + self.fleet.gen[rid] + 1))

    def kv_waits_for_room(self) -> bool:
        """Decode role: KV queued for this replica (done on a prefill replica) waits because it has no batch slot or
        no room for the next one: the decode side is short. (Right after a hand-off the KV also waits, for the next
        iteration boundary; that is not this.)"""
        if self.role != "decode" or not self.kv_ready:
            return False
        return len(self.running) + self._held() >= self.max_seqs or not self._fits(self.fleet.inp[self.kv_ready[0]] + 1)

    # ---- KV accounting (blocks, upper bound with one partial block per sequence) -----------
    def _used_blocks(self, extra_tokens: int = 0) -> float:
        n = len(self.running) + self._holding()
        return (self.K + len(self.running) * self.S + self.pre_tokens + extra_tokens) / self.bs + n * self.seq_blocks

    def _held(self) -> int:
        """Sequences holding KV and a batch slot outside the decode batch: prefilling, crossing the pipeline, being
        copied in from a prefill replica, waiting to join."""
        return len(self.prefilling) + self.crossing + self.receiving + len(self.joining)

    def _holding(self) -> int:
        """Sequences holding KV outside the decode batch: those of _held() and, on a prefill replica, the finished
        prompts whose KV waits for a decode replica (memory, not a batch slot: vLLM frees the request and keeps its
        blocks until the copy is done)."""
        return self._held() + self.outbound

    def _fits(self, tokens: int) -> bool:
        return self._used_blocks(tokens) + 1 + self.watermark <= self.cap_blocks

    # ---- sequence transitions --------------------------------------------------------------
    def _join(self, rid: int, ctx: int, remaining: int) -> None:
        """rid starts decoding with `ctx` tokens in KV and `remaining` decode steps to go."""
        if remaining <= 0:
            self.fleet.complete(rid, self)
            return
        self.gen_no += 1
        fin = self.S + remaining
        self.running[rid] = (ctx - self.S, fin, self.gen_no)
        self.K += ctx - self.S
        heapq.heappush(self.heap, (fin, self.gen_no, rid))

    def _leave(self, rid: int) -> int:
        kd, fin, g = self.running.pop(rid)
        self.K -= kd
        return kd + self.S  # context at leaving

    def _complete_due(self) -> None:
        h = self.heap
        S = self.S
        if not h or h[0][0] > S:
            return
        run = self.running
        while h and h[0][0] <= S:
            fin, g, rid = heapq.heappop(h)
            e = run.get(rid)
            if e is None or e[2] != g:
                continue  # stale entry of a preempted sequence
            self._leave(rid)
            self.fleet.complete(rid, self)

    def _preempt_one(self) -> None:
        rid = next(reversed(self.running))  # newest (LIFO), vLLM's victim
        ctx = self._leave(rid)
        f = self.fleet
        f.preempted[rid] += 1
        self.num_preemptions += 1
        gen = ctx - f.inp[rid] + 1  # tokens generated so far
        f.gen[rid] = gen
        if self.swap_mode:
            self.pending_s += ctx * self.t.kv_bytes_per_token / self.swap_bps
            self.swapped.appendleft((rid, ctx))
        else:
            self.waiting.appendleft(rid)

    def _next_finish_steps(self) -> int:
        h = self.heap
        run = self.running
        while h:
            fin, g, rid = h[0]
            e = run.get(rid)
            if e is not None and e[2] == g:
                return fin - self.S
            heapq.heappop(h)
        return 1 << 40

    # ---- scheduling --------------------------------------------------------------------------
    def _admit(self) -> tuple[int, list]:
        """Fill one iteration's prefill budget. Returns (prefill tokens, prompts finishing)."""
        if not (self.waiting or self.swapped or self.prefilling or self.kv_ready or self.joining):
            return 0, None
        f = self.fleet
        budget = self.max_tokens - (len(self.running) if self.chunked else 0)
        P = 0
        done: list = []
        now = self.env.now
        while self.joining:  # prompts through the pipeline start decoding (their slots and KV are already held)
            rid, L, remaining = self.joining.popleft()
            self.pre_tokens -= L
            self._join(rid, L, remaining)
        # swapped sequences come back first (no prefill; copy time charged)
        while self.swapped and len(self.running) + self._held() < self.max_seqs:
            rid, ctx = self.swapped[0]
            if not self._fits(ctx):
                break
            self.swapped.popleft()
            self.pending_s += ctx * self.t.kv_bytes_per_token / self.swap_bps
            self._join(rid, ctx, f.out[rid] - f.gen[rid])
        if self.role == "decode":
            # pull the KV of prompts done on the prefill side while there is room for it (the copy takes its time;
            # the sequence joins when it ends); a sequence preempted here by recompute is prefilled again below
            while self.kv_ready and len(self.running) + self._held() < self.max_seqs:
                rid = self.kv_ready[0]
                L = f.inp[rid]
                if not self._fits(L + 1):
                    break
                self.kv_ready.popleft()
                self.pre_tokens += L
                self.receiving += 1
                f.pull_kv(rid, self)
        # chunks of prompts already in progress
        if self.chunked:
            for item in self.prefilling:
                if budget <= 0:
                    break
                c = min(budget, item[2] - item[1])
                if c > 0:
                    item[1] += c
                    item[3] = c
                    budget -= c
                    P += c
        while self.waiting and budget > 0 and len(self.running) + self._held() < self.max_seqs:
            rid = self.waiting[0]
            L = f.inp[rid] + f.gen[rid]
            if not self._fits(L + 1):
                break
            if not self.chunked and P > 0 and P + L > budget:
                break
            self.waiting.popleft()
            self.pending_s += self.t.request_overhead_s  # host work to admit (and later retire) a request: the core's term
            if f.sched[rid] != f.sched[rid]:
                f.sched[rid] = now
            c = min(budget, L) if self.chunked else L
            self.prefilling.append([rid, c, L, c])
            self.pre_tokens += L
            budget -= c
            P += c
        return P, done

    def _finish_prefills(self, end_time: float) -> None:
        f = self.fleet
        keep = []
        for item in self.prefilling:
            if item[1] < item[2]:
                keep.append(item)
                continue
            rid, L = item[0], item[2]
            g = f.gen[rid] + 1
            f.gen[rid] = g
            trip = self.t.pipeline_trip_s(item[3])
            if trip > 0.0:  # the last chunk crosses the later stages first; the pipeline goes on with other work
                self.crossing += 1
                ev = self.env.timeout(trip)
                ev.callbacks.append(lambda _ev, rid=rid, L=L, g=g: self._crossed(rid, L, g))
                continue
            if self.role != "prefill":  # a prefill replica keeps the KV until a decode replica has copied it
                self.pre_tokens -= L
            self._first_token(rid, L, g, end_time)
        self.prefilling = keep

    def _mark_first(self, rid: int, t: float) -> None:
        """rid's first token at time t (kept from its first prefill: a recomputed one after preemption does not move it)."""
        f = self.fleet
        if f.first[rid] != f.first[rid]:
            f.first[rid] = t
        f.first_token(t)

    def _first_token(self, rid: int, L: int, g: int, t: float) -> None:
        f = self.fleet
        self._mark_first(rid, t)
        if self.role == "prefill":
            self.outbound += 1
            f.handoff(rid, self, t)
        else:
            self._join(rid, L, f.out[rid] - g)

    def _crossed(self, rid: int, L: int, g: int) -> None:
        """rid's prompt has left the last pipeline stage: its first token now; it joins the decode batch at the next
        iteration (or is handed off / completes)."""
        self.crossing -= 1
        f = self.fleet
        self._mark_first(rid, self.env.now)
        if self.role == "prefill":
            self.outbound += 1
            f.handoff(rid, self, self.env.now)
        elif f.out[rid] - g <= 0:
            self.pre_tokens -= L
            self._join(rid, L, 0)  # a one-token answer completes with its first token
        else:
            self.joining.append((rid, L, f.out[rid] - g))
        self.notify()

    def kv_sent(self, L: int) -> None:
        """Prefill role: a decode replica has copied a finished prompt's KV (L tokens); its blocks are free."""
        self.outbound -= 1
        self.pre_tokens -= L
        self.notify()

    def kv_received(self, rid: int, L: int) -> None:
        """Decode role: rid's KV (L tokens) is here; it joins the decode batch at the next iteration."""
        self.receiving -= 1
        self.joining.append((rid, L, self.fleet.out[rid] - 1))
        self.notify()

    # ---- the iteration loop: callbacks on plain SimPy timeouts (public API only) ---------------
    # Each iteration (or decode run) is one env.timeout whose callback ends it and starts the next;
    # cutting a decode run schedules a new timeout at the next iteration boundary and makes it the
    # current one (the old timeout still fires, finds it is stale and does nothing).
    def _step(self) -> None:
        """Start the next iteration (the body of vLLM's engine loop)."""
        env = self.env
        f = self.fleet
        t = self.t
        if self.state == "draining" and self.outstanding == 0:
            f.turn_off(self)
            return
        running = self.running
        # make room for the next decode step (each running sequence may need a new block)
        B = len(running)
        if B and (self.K + B * self.S + self.pre_tokens + B) / self.bs + (B + self._holding()) * self.seq_blocks > self.cap_blocks:
            while B and self._used_blocks(B) > self.cap_blocks:
                self._preempt_one()
                B = len(running)
        P = self._admit()[0] if (self.waiting or self.swapped or self.prefilling or self.kv_ready or self.joining) else 0
        B = len(running)
        extra = self.pending_s
        self.pending_s = 0.0
        start = env.now
        if P > 0:
            B_iter = B if (self.chunked or P == 0) else 0
            ctx = (self.K + B * self.S) / B if B_iter else 0.0
            dur, pw, fl, by = t.mixed_all(B_iter, ctx, P)
            dur += extra
            f.add_busy(self, start, start + dur, pw * t.gpus, B_iter, fl * self.kf, by * self.kb,
                       (self.K + B * self.S + self.pre_tokens) / self.bs + (B + self._holding()) * self.seq_blocks)
            self.iter_b = B_iter
            ev = env.timeout(dur)
            ev.callbacks.append(self._end_mixed)
            return
        if B == 0:
            if self.queue_len() and not (self.prefilling or self._holding()):
                # nothing running yet something waits that can never fit: cannot happen after routing checks
                raise RuntimeError(f"replica {self.idx}: waiting requests do not fit an empty KV cache")
            self.sleeping = True
            f.idle_begin(self, start)
            return
        # decode run of k iterations
        k_fin = self._next_finish_steps()
        free_tok = (self.cap_blocks - (B + self._holding()) * self.seq_blocks) * self.bs - self.pre_tokens - (self.K + B * self.S)
        k_mem = int(free_tok // B)
        k = max(1, min(k_fin, k_mem))
        ctx_mid = (self.K + B * self.S) / B + 0.5 * (k - 1)
        step, pw, fl, by = t.decode_spw(B, ctx_mid)
        dur = k * step + extra
        pw *= t.gpus
        # energy and tokens are booked when the run ends (a cut run books only the steps it ran);
        # a run still open at the end of the window is booked by close_run()
        self.run_t0 = start
        self.interruptible = k > 1 and B + self._held() < self.max_seqs
        self.run_start = start + extra
        self.run_step = step
        self.run_k = k
        self.run_done = k
        self.run_b = B
        self.run_pw = pw
        self.run_end = start + dur
        self.run_fl = fl * self.kf
        self.run_by = by * self.kb
        self.run_kv0 = (self.K + B * self.S + self.pre_tokens) / self.bs + (B + self._holding()) * self.seq_blocks
        ev = env.timeout(dur)
        ev.callbacks.append(self._end_decode)
        self.cur = ev

    def _end_mixed(self, _ev) -> None:
        if self.iter_b:
            self.S += 1
            self._complete_due()
        self._finish_prefills(self.env.now)
        self._step()

    def _end_decode(self, ev) -> None:
        if ev is not self.cur:
            return  # a run cut short: its original end is stale
        self.cur = None
        self.interruptible = False
        done = self.run_done
        b = self.run_b
        # KV blocks grow by b tokens per step: mean over the steps run
        self.fleet.add_busy(self, self.run_t0, self.run_start + done * self.run_step if done < self.run_k else self.run_end,
                            self.run_pw, b * done, self.run_fl * done, self.run_by * done,
                            self.run_kv0 + 0.5 * b * (done - 1) / self.bs)
        self.S += done
        self._complete_due()
        self._step()

    def close_run(self) -> None:
        """Book a decode run still in progress at the end of the simulated window (the fleet's
        accounting clips it to the window)."""
        if self.cur is not None:
            end = self.run_start + self.run_done * self.run_step if self.run_done < self.run_k else self.run_end
            done = self.run_done
            self.fleet.add_busy(self, self.run_t0, end, self.run_pw, self.run_b * done, self.run_fl * done, self.run_by * done,
                                self.run_kv0 + 0.5 * self.run_b * (done - 1) / self.bs)
            self.cur = None

    def _wake(self, _ev) -> None:
        self.fleet.idle_end(self, self.env.now)
        self._step()
