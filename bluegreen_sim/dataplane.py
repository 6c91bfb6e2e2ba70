"""Serving a window of requests: split by listener weights, route, queue, serve, outcomes.

One SimPy process wakes every ``window`` seconds. At t0 it serves every arrival of [t0, t1) with
the control state in force at t0 (weights, targets in service, faults), after every control
change made at t0 (it runs at a lower SimPy priority). Each target is a FIFO queue in front of
``concurrency`` slots whose free-at times are carried to the next window, so the answer is that
of a request-by-request simulation:

* single-slot targets with round robin or random routing are served by a segmented prefix scan
  (D_n = max(A_n, D_{n-1}) + S_n, vectorised over all targets at once);
* multi-slot targets, and least-outstanding-requests routing (whose choice depends on the queue
  state), are served by a tight per-request loop.

Outcomes are not final at once: a request stays *pending* until its response time has passed,
because a task may still be stopped under it (its in-flight requests then end as ELB 502). Pending
requests are finalised second by second and written to the :class:`~bluegreen_sim.results.Recorder`.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np
import simpy

from .distributions import Sampler

if TYPE_CHECKING:
    from .fargate import Task
    from .simulation import World

BLUE, GREEN = 0, 1
REVISIONS = ("blue", "green")
PRODUCTION, TEST = 0, 1
LATE = 2  # SimPy priority after NORMAL (1): the data plane sees every change made at t0


def late_timeout(env: simpy.Environment, delay: float) -> simpy.Event:
    """A timeout processed after all ordinary events scheduled for the same instant."""
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, LATE, delay)
    return event


class Probe:
    """One health-check probe of a target; served by the task like a request."""

    __slots__ = ("done", "failed_draw", "finish", "task", "time", "timeout")

    def __init__(self, env: simpy.Environment, time: float, task: Task, timeout: float):
        self.time, self.task, self.timeout = time, task, timeout
        self.done = simpy.Event(env)
        self.finish = math.inf
        self.failed_draw = False

    def _end(self) -> float:
        stop = self.task.stopped_at
        if stop is not None and stop <= self.time:
            return self.time  # connection refused at once
        return self.finish if stop is None else min(self.finish, stop)

    def result_at(self) -> float:
        """When the checker knows the result: the response, or the timeout."""
        return min(self._end(), self.time + self.timeout)

    def passed(self) -> bool:
        stop = self.task.stopped_at
        killed = stop is not None and stop < self.finish
        return not killed and not self.failed_draw and self.finish - self.time <= self.timeout

    def reason(self) -> str:
        stop = self.task.stopped_at
        if stop is not None and stop < self.finish:
            return "connection closed"
        if self.finish - self.time > self.timeout:
            return "timeout"
        return "bad response"


class TestTraffic:
    """Requests sent by a hook through the test listener (or the production route)."""

    def __init__(self, env: simpy.Environment, source_id: int, times: np.ndarray, via: str):
        self.id = source_id
        self.times = np.asarray(times, dtype=float)
        self.via = via  # "test" (test listener → green) or "production" (weights)
        self.next = 0
        self.finished = simpy.Event(env)
        self.status: list[np.ndarray] = []
        self.latency: list[np.ndarray] = []
        self.revision: list[np.ndarray] = []
        self.received = 0

    def take(self, t1: float) -> np.ndarray:
        end = int(np.searchsorted(self.times, t1, side="left"))
        out = self.times[self.next : end]
        self.next = end
        return out

    def collect(self, status: np.ndarray, latency: np.ndarray, revision: np.ndarray) -> None:
        self.status.append(status)
        self.latency.append(latency)
        self.revision.append(revision)
        self.received += len(status)
        if self.received >= len(self.times) and not self.finished.triggered:
            self.finished.succeed()

    def results(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(status, latency in seconds, revision index) of every request sent."""
        if not self.status:
            return np.empty(0, np.int16), np.empty(0), np.empty(0, np.int8)
        return (
            np.concatenate(self.status),
            np.concatenate(self.latency),
            np.concatenate(self.revision),
        )


_FIELDS = ("arrival", "start", "finish", "task", "revision", "kind", "source", "status")


class DataPlane:
    """Generates and serves the request load, window by window."""

    def __init__(self, world: World):
        self.world = world
        sc = world.scenario
        self.env = world.env
        self.window = sc.engine.window
        self.duration = sc.duration
        self.idle_timeout = sc.load_balancer.idle_timeout
        self.routing = sc.load_balancer.routing
        self.computed_until = 0.0
        self.finalized_until = 0.0
        from .load import ArrivalProcess

        self.load = ArrivalProcess(sc, world.rngs.arrivals)
        self.samplers = [Sampler(sc.revision(r).latency, sc) for r in REVISIONS]
        self.error_rate = np.array([sc.revision(r).error_rate for r in REVISIONS])
        self.probes: list[tuple[float, int, Probe]] = []  # heap by time
        self._probe_seq = 0
        self.sources: list[TestTraffic] = []
        self.stop_at = np.full(64, np.inf)  # by task id: when the task stopped
        self.pending = {f: np.empty(0, dtype=_dtype(f)) for f in _FIELDS}
        # least outstanding requests: per target group, a heap of (finish, task id)
        self._outstanding_heap: list[list[tuple[float, int]]] = [[], []]
        self._outstanding: dict[int, int] = {}
        self.first_faulty_green: float | None = None

    # -- interface for the control plane -------------------------------------------------
    def run(self):
        """The SimPy process: serve a window, finalise what is done, sleep to the next."""
        env = self.env
        while env.now < self.duration - 1e-9:
            t0 = env.now
            t1 = min(t0 + self.window, self.duration)
            self.world.recorder.sample_state(t0, t1)
            self.serve_window(t0, t1)
            self.computed_until = t1
            self.finalize(t0)
            yield late_timeout(env, t1 - t0)

    def schedule_probe(self, task: Task, when: float, timeout: float) -> Probe:
        """A health-check probe of ``task`` at ``when`` (or the next window, if that is past)."""
        when = max(when, self.computed_until)
        probe = Probe(self.env, when, task, timeout)
        self._probe_seq += 1
        heapq.heappush(self.probes, (when, self._probe_seq, probe))
        return probe

    def send_test_traffic(self, times: np.ndarray, via: str) -> TestTraffic:
        """Test requests at ``times`` (not before the next window), via the test listener."""
        times = np.sort(np.maximum(np.asarray(times, dtype=float), self.computed_until))
        source = TestTraffic(self.env, len(self.sources), times, via)
        self.sources.append(source)
        if len(times) == 0:
            source.finished.succeed()
        return source

    def kill(self, task: Task, at: float) -> None:
        """The task stopped at ``at``: its in-flight requests end as ELB 502."""
        if task.id >= len(self.stop_at):
            self._grow(task.id)
        self.stop_at[task.id] = at

    def busy_until(self, task: Task) -> float:
        """When the last request accepted by ``task`` completes (FIFO: its latest slot)."""
        return float(task.slots.max())

    def time_to_next_window(self) -> float:
        return max(0.0, self.computed_until - self.env.now)

    def _grow(self, task_id: int) -> None:
        new = np.full(max(task_id + 1, 2 * len(self.stop_at)), np.inf)
        new[: len(self.stop_at)] = self.stop_at
        self.stop_at = new

    # -- serving a window --------------------------------------------------------------------
    def serve_window(self, t0: float, t1: float) -> None:
        world = self.world
        rngs = world.rngs
        arrivals = self.load.arrivals(t0, t1)
        n_prod = len(arrivals)
        green_share = world.listener.green_weight / 100.0
        # Always drawn, whatever the weight: common random numbers across variants.
        to_green = rngs.routing.random(n_prod) < green_share

        times = [arrivals]
        kinds = [np.zeros(n_prod, np.int8)]
        revs = [to_green.astype(np.int8)]
        sources = [np.full(n_prod, -1, np.int32)]

        for source in self.sources:
            if source.next >= len(source.times):
                continue
            t = source.take(t1)
            if not len(t):
                continue
            if source.via == "test":
                rev = np.full(len(t), GREEN, np.int8)
            else:
                rev = (rngs.hooks.random(len(t)) < green_share).astype(np.int8)
            times.append(t)
            kinds.append(np.full(len(t), TEST, np.int8))
            revs.append(rev)
            sources.append(np.full(len(t), source.id, np.int32))

        probes: list[Probe] = []
        while self.probes and self.probes[0][0] < t1:
            probes.append(heapq.heappop(self.probes)[2])

        time = np.concatenate(times)
        kind = np.concatenate(kinds)
        rev = np.concatenate(revs)
        source = np.concatenate(sources)
        n_req = len(time)

        # Route requests to targets (local index into `tasks`); -1 = no target (503).
        tasks: list[Task] = []
        local = np.full(n_req, -1, np.int64)
        lor_groups: list[tuple[int, np.ndarray, list[Task]]] = []
        for g, name in enumerate(REVISIONS):
            idx = np.flatnonzero(rev == g)
            group = world.alb.target_group(name)
            in_service, weights = group.in_service()
            if not in_service:
                continue
            base = len(tasks)
            tasks.extend(in_service)
            m = len(in_service)
            if not len(idx):
                continue
            if self.routing == "least_outstanding_requests":
                lor_groups.append((g, idx, in_service))
            elif self.routing == "round_robin" and weights is None:
                local[idx] = base + (group.rr + np.arange(len(idx))) % m
                group.rr = (group.rr + len(idx)) % m
            else:
                w = np.ones(m) if weights is None else weights
                cum = np.cumsum(w / w.sum())
                pick = np.searchsorted(cum, rngs.routing.random(len(idx)), side="right")
                local[idx] = base + np.minimum(pick, m - 1)

        # Probes go to their own target.
        probe_local = np.empty(len(probes), np.int64)
        task_index = {t.id: i for i, t in enumerate(tasks)}
        for i, p in enumerate(probes):
            j = task_index.get(p.task.id)
            if j is None:
                j = len(tasks)
                task_index[p.task.id] = j
                tasks.append(p.task)
            probe_local[i] = j
        probe_time = np.array([max(p.time, t0) for p in probes])
        for p, t in zip(probes, probe_time, strict=True):
            p.time = float(t)

        all_time = np.concatenate((time, probe_time))
        all_local = np.concatenate((local, probe_local))
        all_rev = np.concatenate((rev, np.array([_rev(p.task) for p in probes], np.int8)))
        n_all = len(all_time)

        # Service times from base variates (production first: common random numbers).
        svc = self._service_times(all_rev, n_all, rngs.service)
        task_arr = _task_arrays(tasks)
        has_task = all_local >= 0
        lt = np.where(has_task, all_local, 0)
        if tasks:
            age_min = np.maximum(all_time - task_arr["leak_since"][lt], 0.0) / 60.0
            svc = np.where(
                has_task,
                svc * task_arr["latency_multiply"][lt]
                + task_arr["latency_add"][lt]
                + task_arr["leak_growth"][lt] * age_min,
                svc,
            )

        # Outcomes drawn before serving (their draws do not depend on the queue).
        u_err = rngs.errors.random(n_all)

        start = np.full(n_all, np.nan)
        finish = np.full(n_all, np.nan)
        if tasks:
            single = task_arr["concurrency"] == 1
            vec = has_task & single[lt]
            lor_rows = np.zeros(n_all, bool)
            for _, idx, _ in lor_groups:
                lor_rows[idx] = True
            if lor_groups:
                # requests of LOR groups are routed in the loop; probes to those tasks too
                lor_task_ids = {t.id for _, _, ts in lor_groups for t in ts}
                probe_rows = np.arange(n_req, n_all)
                for r, p in zip(probe_rows, probes, strict=True):
                    if p.task.id in lor_task_ids:
                        lor_rows[r] = True
                vec &= ~lor_rows
            if vec.any():
                self._scan_single_slot(
                    np.flatnonzero(vec), all_time, svc, all_local, tasks, start, finish
                )
            loop_rows = has_task & ~vec & ~lor_rows
            if loop_rows.any():
                self._loop_multi_slot(
                    np.flatnonzero(loop_rows), all_time, svc, all_local, tasks, start, finish
                )
            for g, idx, in_service in lor_groups:
                self._loop_least_outstanding(
                    g,
                    idx,
                    probes,
                    n_req,
                    all_time,
                    svc,
                    all_local,
                    tasks,
                    task_index,
                    in_service,
                    start,
                    finish,
                    task_arr,
                )
            has_task = all_local >= 0
            lt = np.where(has_task, all_local, 0)

        # Error outcome: the revision's rate combined with faults and overload.
        p_err = self.error_rate[all_rev].astype(float)
        if tasks:
            extra = task_arr["extra_error_rate"][lt]
            util = self._utilisation(all_local, svc, tasks, t1 - t0)
            over = np.where(
                util[lt] > task_arr["overload_utilisation"][lt],
                task_arr["overload_error_rate"][lt],
                0.0,
            )
            p_err = np.where(has_task, 1 - (1 - p_err) * (1 - extra) * (1 - over), p_err)
        status = np.where(u_err < p_err, 500, 200).astype(np.int16)

        # Probes: results go to their checkers.
        if probes:
            pf = np.array([p.task.probe_failure for p in probes])
            fail = rngs.hooks.random(len(probes)) < pf
            for i, p in enumerate(probes):
                p.finish = float(finish[n_req + i])
                p.failed_draw = bool(fail[i])
                p.done.succeed()

        # Requests: record which task served them, then hold them as pending.
        req_local = all_local[:n_req]
        if tasks:
            task_ids = np.array([t.id for t in tasks], np.int64)
            tid = np.where(req_local >= 0, task_ids[np.maximum(req_local, 0)], -1)
        else:
            tid = np.full(n_req, -1, np.int64)
        st = np.where(req_local >= 0, status[:n_req], 503).astype(np.int16)
        if self.first_faulty_green is None and tasks:
            faulty = task_arr["faulty"][np.where(req_local >= 0, req_local, 0)]
            hit = (kind == PRODUCTION) & (rev == GREEN) & (req_local >= 0) & faulty
            if hit.any():
                self.first_faulty_green = float(time[np.argmax(hit)])
        batch = {
            "arrival": time,
            "start": start[:n_req],
            "finish": np.where(req_local >= 0, finish[:n_req], time),
            "task": tid,
            "revision": rev,
            "kind": kind,
            "source": source,
            "status": st,
        }
        for f in _FIELDS:
            self.pending[f] = np.concatenate((self.pending[f], batch[f].astype(_dtype(f))))

    def _service_times(self, rev: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        svc = np.empty(n)
        needs = {s.needs for s in self.samplers}
        base_normal = rng.standard_normal(n) if "normal" in needs else None
        base_uniform = rng.random(n) if "uniform" in needs else None
        for g, sampler in enumerate(self.samplers):
            m = rev == g
            if m.any():
                base = base_normal if sampler.needs == "normal" else base_uniform
                svc[m] = sampler.from_base(base[m])
        return svc

    def _utilisation(self, local, svc, tasks, width) -> np.ndarray:
        has = local >= 0
        work = np.bincount(local[has], weights=svc[has], minlength=len(tasks))
        conc = np.array([t.concurrency for t in tasks], float)
        return work / (max(width, 1e-9) * conc)

    @staticmethod
    def _scan_single_slot(rows, time, svc, local, tasks, start, finish) -> None:
        """FIFO single-server queues of all targets at once: a segmented prefix scan.

        Within a target, D_n = C_n + max(F, max_{j<=n}(A_j - C_{j-1})) with C the running
        sum of service times and F the time the server is free from the previous window.
        """
        seg = local[rows]
        order = np.lexsort((time[rows], seg))
        r = rows[order]
        seg = seg[order]
        a = time[r]
        s = svc[r]
        n = len(r)
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(seg[1:], seg[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        lengths = np.diff(np.append(starts, n))
        c = np.cumsum(s)
        c_before = np.repeat((c - s)[starts], lengths)
        c_seg = c - c_before  # within-segment cumulative service incl. this request
        key = a - (c_seg - s)
        # Offsetting each segment keeps one global running max from leaking across segments.
        span = float(key.max() - key.min()) + 1.0
        off = np.repeat(np.arange(len(starts)) * 2.0 * span, lengths)
        key_off = key + off
        run = np.maximum.accumulate(key_off)
        free = np.repeat(np.array([tasks[j].slots[0] for j in seg[starts]]), lengths)
        # wait = max(F, runmax) - key, computed in the offset frame: exact zeros when idle
        wait = np.maximum(run - key_off, free - a)
        wait = np.maximum(wait, 0.0)
        st = a + wait
        fin = st + s
        start[r] = st
        finish[r] = fin
        last = np.append(starts[1:], n) - 1
        for j, f in zip(seg[starts], fin[last], strict=True):
            tasks[j].slots[0] = f

    @staticmethod
    def _loop_multi_slot(rows, time, svc, local, tasks, start, finish) -> None:
        """FIFO queue in front of c slots: each request takes the earliest free slot."""
        seg = local[rows]
        order = np.lexsort((time[rows], seg))
        r_sorted = rows[order].tolist()
        seg_sorted = seg[order].tolist()
        t_list = time[rows[order]].tolist()
        s_list = svc[rows[order]].tolist()
        st_out = [0.0] * len(r_sorted)
        current = -1
        heap: list[float] = []
        replace = heapq.heapreplace
        for i, j in enumerate(seg_sorted):
            if j != current:
                if current >= 0:
                    tasks[current].slots = np.array(heap)
                current = j
                heap = sorted(tasks[j].slots.tolist())
            a = t_list[i]
            free = heap[0]
            b = a if a > free else free
            st_out[i] = b
            replace(heap, b + s_list[i])
        if current >= 0:
            tasks[current].slots = np.array(heap)
        st_arr = np.array(st_out)
        idx = np.array(r_sorted)
        start[idx] = st_arr
        finish[idx] = st_arr + svc[idx]

    def _loop_least_outstanding(
        self,
        g,
        idx,
        probes,
        n_req,
        time,
        svc,
        local,
        tasks,
        task_index,
        in_service,
        start,
        finish,
        task_arr,
    ) -> None:
        """Route each request to the target with the fewest requests in flight, and serve it.

        Outstanding counts carry across windows (requests still in service); ties go to the
        target after the last one chosen, so equal targets share the load in turn.
        """
        heap = self._outstanding_heap[g]
        outstanding = self._outstanding
        ids = [t.id for t in in_service]
        for i in ids:
            outstanding.setdefault(i, 0)
        local_of = {t.id: task_index[t.id] for t in in_service}
        slot_heaps = {t.id: sorted(t.slots.tolist()) for t in in_service}
        probe_rows = [n_req + k for k, p in enumerate(probes) if p.task.id in slot_heaps]
        rows = np.concatenate((idx, np.array(probe_rows, np.int64)))
        rows = rows[np.argsort(time[rows], kind="stable")]
        t_list = time[rows].tolist()
        s_list = svc[rows].tolist()  # base service times: the chosen task's faults apply below
        is_probe = (rows >= n_req).tolist()
        mul = task_arr["latency_multiply"].tolist()
        add = task_arr["latency_add"].tolist()
        growth = task_arr["leak_growth"].tolist()
        since = task_arr["leak_since"].tolist()
        adjusted = any(m != 1.0 for m in mul) or any(add) or any(growth)
        fixed = local[rows].tolist()
        m = len(ids)
        turn = 0
        id_of_local = {v: k for k, v in local_of.items()}
        pop, push, replace = heapq.heappop, heapq.heappush, heapq.heapreplace
        st_out = [0.0] * len(rows)
        chosen = [0] * len(rows)
        for i in range(len(rows)):
            a = t_list[i]
            while heap and heap[0][0] <= a:
                _, done_id = pop(heap)
                outstanding[done_id] -= 1
            if is_probe[i]:
                tid = id_of_local[fixed[i]]
            else:
                best = None
                best_n = 0
                for k in range(m):
                    cand = ids[(turn + k) % m]
                    n_out = outstanding[cand]
                    if best is None or n_out < best_n:
                        best, best_n = cand, n_out
                        if n_out == 0:
                            break
                tid = best
                turn = (ids.index(tid) + 1) % m
            j = local_of[tid]
            if adjusted and not is_probe[i]:  # probes were adjusted with their task
                s_list[i] = s_list[i] * mul[j] + add[j] + growth[j] * max(a - since[j], 0.0) / 60.0
            slots = slot_heaps[tid]
            free = slots[0]
            b = a if a > free else free
            f = b + s_list[i]
            replace(slots, f)
            if not is_probe[i]:
                outstanding[tid] += 1
                push(heap, (f, tid))
            st_out[i] = b
            chosen[i] = j
        for t in in_service:
            t.slots = np.array(slot_heaps[t.id])
        st_arr = np.array(st_out)
        svc[rows] = s_list
        start[rows] = st_arr
        finish[rows] = st_arr + svc[rows]
        local[rows[~np.array(is_probe, bool)]] = np.array(chosen)[~np.array(is_probe, bool)]

    # -- finalising ----------------------------------------------------------------------------
    def outcomes(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(response time, status) of pending requests, given the tasks stopped so far."""
        has_task = p["task"] >= 0
        stop = np.where(has_task, self.stop_at[np.where(has_task, p["task"], 0)], np.inf)
        arrival, finish = p["arrival"], p["finish"]
        refused = arrival >= stop
        cut = ~refused & (finish > stop)
        natural = np.where(cut, stop, finish)
        limit = arrival + self.idle_timeout
        timed_out = ~refused & (natural > limit)
        resp = np.where(refused, arrival, np.where(timed_out, limit, natural))
        status = np.where(
            refused | (cut & ~timed_out), 502, np.where(timed_out, 504, p["status"])
        ).astype(np.int16)
        return resp, status

    def finalize(self, until: float) -> None:
        """Finalise every pending request whose response came before the whole second
        ``floor(until)``; everything when ``until`` is infinite."""
        boundary = math.floor(until) if math.isfinite(until) else math.inf
        if boundary <= self.finalized_until or not len(self.pending["arrival"]):
            self.finalized_until = max(self.finalized_until, boundary)
            return
        p = self.pending
        resp, status = self.outcomes(p)
        done = resp < boundary
        if done.any():
            batch = {f: p[f][done] for f in _FIELDS}
            batch["response"] = resp[done]
            batch["status"] = status[done]
            keep = ~done
            self.pending = {f: p[f][keep] for f in _FIELDS}
            self.world.recorder.record(batch)
            for source in self.sources:
                sel = batch["source"] == source.id
                if sel.any():
                    source.collect(
                        batch["status"][sel],
                        batch["response"][sel] - batch["arrival"][sel],
                        batch["revision"][sel],
                    )
        self.finalized_until = max(self.finalized_until, boundary)


def _rev(task: Task) -> int:
    return GREEN if task.revision == "green" else BLUE


def _dtype(field: str):
    return {
        "task": np.int64,
        "revision": np.int8,
        "kind": np.int8,
        "source": np.int32,
        "status": np.int16,
    }.get(field, np.float64)


def _task_arrays(tasks: list[Task]) -> dict[str, np.ndarray]:
    """The per-task state the data plane reads, as arrays indexed by local task index."""
    return {
        "concurrency": np.array([t.concurrency for t in tasks], np.int64),
        "latency_multiply": np.array([t.latency_multiply for t in tasks]),
        "latency_add": np.array([t.latency_add for t in tasks]),
        "leak_growth": np.array([t.leak_growth for t in tasks]),
        "leak_since": np.array([t.leak_since for t in tasks]),
        "extra_error_rate": np.array([t.extra_error_rate for t in tasks]),
        "overload_error_rate": np.array([t.overload_error_rate for t in tasks]),
        "overload_utilisation": np.array([t.overload_utilisation for t in tasks]),
        "faulty": np.array([t.faulty for t in tasks], bool),
    }
