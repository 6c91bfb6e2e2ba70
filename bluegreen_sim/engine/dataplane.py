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
requests are finalised second by second (:mod:`.outcomes`); queues are served by :mod:`.serving`.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import numpy as np

from . import kernels
from .clients import Clients
from .distributions import Sampler
from .outcomes import _BASE_FIELDS, PRODUCTION, TEST, Outcomes, _dtype
from .probes import Probe, TestTraffic, late_timeout
from .serving import Serving, _take
from .tasktable import TaskTable

if TYPE_CHECKING:
    from ..aws.fargate import Task
    from .simulation import World

BLUE, GREEN = 0, 1
REVISIONS = ("blue", "green")
FLUSH_EVERY = 30.0  # seconds of simulated time between routine finalisations
MAX_SPAN = 30.0  # seconds of quiet windows served in one numpy pass, at most
# Requests per numpy pass: about 10,000 keep a pass's arrays in the CPU caches (a 30,000-row
# pass costs twice as much per request as a 10,000-row one); fewer add per-call overhead.
BATCH_REQUESTS = 10_000
FUSED_SCAN_REQUESTS = 20e6  # expected requests from which the compiled scan pays for itself


def warm_up_for(scenario, runs: int) -> None:
    """Load numba's kernels now if ``runs`` runs of ``scenario`` will repay its first call
    (a sweep worker's chunk): the compiled scan then serves them all, with the same results."""
    if (
        kernels.HAVE_NUMBA
        and not kernels.ready()
        and scenario.load.rps * scenario.duration * runs >= FUSED_SCAN_REQUESTS
    ):
        kernels.warm_up()


class DataPlane(Serving, Outcomes):
    """Generates and serves the request load, window by window."""

    def __init__(self, world: World):
        self.world = world
        sc = world.scenario
        self.env = world.env
        self.window = sc.engine.window
        self.duration = sc.duration
        self.idle_timeout = sc.load_balancer.idle_timeout
        self.routing = sc.load_balancer.routing
        self.probe_time = sc.load_balancer.health_check.probe_time
        self.computed_until = 0.0
        self.finalized_until = 0.0
        from .arrivals import ArrivalProcess

        self.load = ArrivalProcess(sc, world.rngs.arrivals)
        self.samplers = [Sampler(sc.revision(r).latency, sc) for r in REVISIONS]
        self._needs = {s.needs for s in self.samplers}
        self.error_rate = np.array([sc.revision(r).error_rate for r in REVISIONS])
        self._one_error_rate = bool(self.error_rate[0] == self.error_rate[1])
        width = max(sc.revision(r).concurrency for r in REVISIONS)
        # the segmented scan (single-slot targets) is the pass that needs cache-sized batches
        single = width == 1 and self.routing != "least_outstanding_requests"
        per_batch = BATCH_REQUESTS / max(sc.load.rps, 1e-9) if single else MAX_SPAN
        self.max_span = min(MAX_SPAN, max(per_batch, self.window))
        self.table = TaskTable(width)
        # Probes by (time, task id): a tie-break that does not depend on the order in which
        # the checkers happened to wake. Only probes whose outcome is awaited ("urgent") make
        # their window be served at once.
        self.probes: list[tuple[float, int, int, Probe]] = []
        self._probe_seq = 0
        self._urgent = 0
        self.testing: list[TestTraffic] = []  # test traffic not yet all answered
        self._sources = 0  # test-traffic sources made so far (their ids)
        # Fields a chunk may leave out: kind/source (no test traffic: all production), start
        # (only kept when the requests are recorded); :func:`_column` fills them in.
        self.pending = {f: np.empty(0, dtype=_dtype(f)) for f in _BASE_FIELDS}
        self._chunks: list[dict[str, np.ndarray]] = []  # served since the last finalisation
        self._promised: list[tuple[float, float]] = []  # windows promised, not yet served
        # Slow start reweights targets every window: then windows are served one by one.
        self._quiet_windows_differ = sc.load_balancer.slow_start > 0
        # Probes may be served several windows late, in a batch, when serving windows in one
        # pass draws the same numbers as serving them one at a time (see serve_windows):
        # not with weighted random routing (its picks follow each batch's revision draws) nor
        # with latency distributions of both kinds of base variates.
        self.probes_deferrable = (
            self.routing != "weighted_random"
            and len(self._needs) == 1
            and not self._quiet_windows_differ
        )
        # least outstanding requests: per target group, the completion heap and tie-break turn
        self._lor = [
            {"t": np.zeros(1024), "k": np.zeros(1024, np.int64), "state": np.zeros(2, np.int64)}
            for _ in REVISIONS
        ]
        self.first_faulty_green: float | None = None
        # Clients and target-group stickiness (engine/clients.py); None: requests independent.
        self.clients = (
            Clients(sc.load.clients, sc.load_balancer.target_group_stickiness, world.rngs.clients)
            if sc.load.clients
            else None
        )
        # ECS rolling update: one target group holds both revisions, so a request
        # is of the revision of the task that serves it, not of the group it was forwarded to.
        self.mixed_revisions = False
        loops = self.routing == "least_outstanding_requests" or width > 1
        if loops:
            kernels.warm_up()
        # The fused single-slot scan saves ~30 ns a request, but the first numba call of a
        # process costs ~0.5 s: worth it when numba is needed anyway, is loaded already (a
        # sweep worker's later runs) or the run is long.
        self._fused_scan = kernels.HAVE_NUMBA and (
            loops or kernels.ready() or sc.load.rps * sc.duration >= FUSED_SCAN_REQUESTS
        )

    # -- interface for the control plane -------------------------------------------------
    def run(self):
        """The SimPy process: one window at a time, served lazily.

        Each window is promised at its start with the control state in force then; it is
        served at once when something will read it (a health-check probe or test traffic in
        it), and otherwise held until the control state is about to change, someone reads
        outcomes, or :attr:`max_span` seconds have gathered. Serving several quiet windows in
        one numpy pass draws the same random numbers in the same order as serving them one by
        one, so the results are those of one window at a time, at a fraction of the cost.
        """
        env = self.env
        while env.now < self.duration - 1e-9:
            t0 = env.now
            t1 = min(t0 + self.window, self.duration)
            self.world.recorder.sample_state(t0, t1)
            self._promised.append((t0, t1))
            self.computed_until = t1
            if self._serve_now(t1):
                self.flush()
            # Finalising in batches of several seconds keeps numpy's per-call cost small;
            # whoever needs fresher outcomes (alarms, hooks) finalises up to now first.
            if t0 - self.finalized_until >= FLUSH_EVERY or self.testing:
                self.finalize(t0)
            yield late_timeout(env, t1 - t0)

    def _serve_now(self, t1: float) -> bool:
        return bool(
            (self._urgent and self._urgent_probe_before(t1))
            or self.testing
            or t1 - self._promised[0][0] >= self.max_span
            or self._quiet_windows_differ
            # utilisation is measured per window: overload faults need windows one by one
            or self.table.overload_faults
        )

    def _urgent_probe_before(self, t1: float) -> bool:
        # heap order is not sorted order: scan them (a few hundred at most)
        return any(when < t1 and not probe.deferred for when, _, _, probe in self.probes)

    def flush(self) -> None:
        """Serve every promised window, with the control state still in force.

        The control plane calls this before it changes anything the data plane reads
        (weights, targets in service, faults), so each window is served with the state in
        force at its start.
        """
        if self._promised:
            windows, self._promised = self._promised, []
            self.serve_windows(windows)

    def add_task(self, task: Task) -> None:
        self.table.add(task.id, task.concurrency, _rev(task))

    def schedule_probe(
        self, task: Task, when: float, timeout: float, deferred: bool = False
    ) -> Probe:
        """A health-check probe of ``task`` at ``when`` (or the next window, if that is past).

        A ``deferred`` probe does not make its window be served at once: it is served with
        the windows around it, and its outcome is read later (see ``HealthChecker.run``).
        """
        when = max(when, self.computed_until)
        probe = Probe(self.env, when, task, timeout, deferred)
        self._probe_seq += 1
        heapq.heappush(self.probes, (when, task.id, self._probe_seq, probe))
        if not deferred:
            self._urgent += 1
        return probe

    def send_test_traffic(self, times: np.ndarray, via: str) -> TestTraffic:
        """Test requests at ``times`` (not before the next window), via the test listener."""
        # Windows with deferred probes are served first: their hooks-stream draws come before
        # those of the test traffic, as when each probe's window was served at its start.
        self.flush()
        times = np.sort(np.maximum(np.asarray(times, dtype=float), self.computed_until))
        source = TestTraffic(self.env, self._sources, times, via)
        self._sources += 1
        if len(times) == 0:
            source.finished.succeed()
        else:
            self.testing.append(source)
        return source

    def kill(self, task: Task, at: float) -> None:
        """The task's connections closed at ``at``: its in-flight requests end as ELB 502."""
        col = self.table.columns["stop_at"]
        col[task.id] = min(col[task.id], at)

    def refuse_until(self, task: Task, at: float) -> None:
        """The task's application answers from ``at``: requests before it are refused (502)."""
        self.flush()
        self.table.columns["ready_at"][task.id] = at
        self.table.start_delays = True

    def busy_until(self, task: Task) -> float:
        """When the last request accepted by ``task`` completes (FIFO: its latest slot)."""
        self.flush()
        return float(self.table.slots[task.id, : task.concurrency].max())

    def time_to_next_window(self) -> float:
        return max(0.0, self.computed_until - self.env.now)

    # -- serving a window --------------------------------------------------------------------
    def serve_windows(self, windows: list[tuple[float, float]]) -> None:
        """Serve consecutive windows, in which the control state did not change, in one pass."""
        world = self.world
        rngs = world.rngs
        table = self.table
        cols = table.columns
        t0, t1 = windows[0][0], windows[-1][1]
        if len(windows) == 1:
            time = self.load.arrivals(t0, t1)
        else:  # drawn window by window: the same numbers as serving them one at a time
            time = np.concatenate([self.load.arrivals(a, b) for a, b in windows])
        n_prod = len(time)
        green_share = world.listener.green_weight / 100.0
        # Always drawn, whatever the weight: common random numbers across variants.
        rev = (rngs.routing.random(n_prod) < green_share).view(np.int8)  # 0/1, no copy
        if self.clients is not None:  # a sticky client goes where its cookie says
            rev = self.clients.route(time, rev, self._groups_in_service())
        kind = source = None  # production only, unless test traffic is sent
        if self.testing:
            time, rev, kind, source = self._add_test_traffic(
                t1,
                green_share,
                time,
                rev,
                np.zeros(n_prod, np.int8),
                np.full(n_prod, -1, np.int32),
            )
        n_req = len(time)

        # Route requests to targets (task ids); -1 = no target in service (503).
        task = np.full(n_req, -1, np.int64)
        lor_groups = []
        for g, name in enumerate(REVISIONS):
            ids, weights = world.alb.target_group(name).in_service_ids()
            m = len(ids)
            if not m:
                continue
            idx = np.flatnonzero(rev == g)
            if not len(idx):
                continue
            group = world.alb.target_group(name)
            if self.routing == "least_outstanding_requests":
                lor_groups.append((g, idx, ids))
            elif self.routing == "round_robin" and weights is None:
                # ids[(rr + i) % m] for the i-th request: the turn order repeated
                task[idx] = np.tile(np.roll(ids, -group.rr), len(idx) // m + 1)[: len(idx)]
                group.rr = (group.rr + len(idx)) % m
            else:
                w = np.ones(m) if weights is None else weights
                cum = np.cumsum(w / w.sum())
                pick = np.searchsorted(cum, rngs.routing.random(len(idx)), side="right")
                task[idx] = ids[np.minimum(pick, m - 1)]
        if self.mixed_revisions:  # the serving task's revision (503s keep the group's)
            rev = np.where(task >= 0, table.revision[np.maximum(task, 0)], rev).astype(np.int8)

        probes: list[Probe] = []
        while self.probes and self.probes[0][0] < t1:
            probes.append(heapq.heappop(self.probes)[3])
        order = None  # where the probes' draws are in the stream, if not after the requests
        if probes:
            for p in probes:
                p.time = max(p.time, t0)
                self._urgent -= not p.deferred
            probe_time = np.array([p.time for p in probes])
            if len(windows) > 1 and probe_time[0] < windows[-1][0]:
                order = _window_order(windows, time, probe_time, sorted_times=kind is None)
            all_time = np.concatenate((time, probe_time))
            all_task = np.concatenate((task, [p.task.id for p in probes]))
            all_rev = np.concatenate((rev, table.revision[all_task[n_req:]]))
        else:
            all_time, all_task, all_rev = time, task, rev
        n_all = len(all_time)

        # Service times from base variates (production first: common random numbers).
        if self.probe_time is None or not probes:
            svc = self._service_times(all_rev, n_all, rngs.service, order)
        else:
            svc = np.concatenate(
                (
                    self._service_times(rev, n_req, rngs.service),
                    np.full(len(probes), self.probe_time),
                )
            )
        has = all_task >= 0
        all_have = bool(has.all())  # the common case: no 503, the task ids index as they are
        tk = all_task if all_have else np.where(has, all_task, 0)
        if table.latency_faults:
            # faults slow the requests (and the probes, when they do a request's work)
            faulted = has if self.probe_time is None else has & (np.arange(n_all) < n_req)
            age_min = np.maximum(all_time - cols["leak_since"][tk], 0.0) / 60.0
            svc = np.where(
                faulted,
                svc * cols["latency_multiply"][tk]
                + cols["latency_add"][tk]
                + cols["leak_growth"][tk] * age_min,
                svc,
            )
        # Outcomes drawn before serving (their draws do not depend on the queue).
        u_err = rngs.errors.random(n_all)
        if order is not None:
            u_err = _take(u_err, order)

        # every row is served when all have a target and the scan takes them all
        served_by_scan = all_have and table.width == 1 and not lor_groups
        start = np.empty(n_all) if served_by_scan else np.full(n_all, np.nan)
        if lor_groups:
            self._serve_least_outstanding(lor_groups, n_req, all_time, svc, all_task, start)
            has = all_task >= 0
            tk = np.where(has, all_task, 0)
            rows = has & np.isnan(start)
        else:
            rows = has
        if table.width == 1:  # single-slot targets only
            if rows.any():
                # arrivals come sorted; probes and test traffic are appended after them
                self._scan_single_slot(
                    np.flatnonzero(rows),
                    all_time,
                    svc,
                    all_task,
                    start,
                    in_time_order=not probes and kind is None and not lor_groups,
                )
        elif rows.any():
            multi = table.concurrency[tk] > 1
            single = rows & ~multi
            if single.any():
                self._scan_single_slot(np.flatnonzero(single), all_time, svc, all_task, start)
            if (rows & multi).any():
                r = np.flatnonzero(rows & multi)
                order = np.lexsort((all_time[r], all_task[r]))
                r = r[order]
                st = np.empty(len(r))
                kernels.fifo_slots(all_time[r], svc[r], all_task[r], table.slots, st)
                start[r] = st
        finish = start + svc

        # Error outcome: the revision's rate combined with faults and overload.
        p_err = self.error_rate[0] if self._one_error_rate else self.error_rate[all_rev]
        if table.error_faults and has.any():
            extra = cols["extra_error_rate"][tk]
            over_rate = cols["overload_error_rate"][tk]
            if over_rate.any():
                util = self._utilisation(all_task, svc, t1 - t0)
                over = np.where(util[tk] > cols["overload_utilisation"][tk], over_rate, 0.0)
            else:
                over = 0.0
            p_err = np.where(has, 1 - (1 - p_err) * (1 - extra) * (1 - over), p_err)
        status = np.where(u_err < p_err, np.int16(500), np.int16(200))

        # Probes: results go to their checkers.
        if probes:
            fail = rngs.hooks.random(len(probes)) < cols["probe_failure"][all_task[n_req:]]
            for p, f, failed in zip(probes, finish[n_req:].tolist(), fail.tolist(), strict=True):
                p.finish = f
                p.failed_draw = failed
                p.served = True
                if not p.deferred:
                    p.done.succeed()

        # Requests: held as pending until their response has gone.
        task = all_task[:n_req]
        routed = task >= 0
        all_routed = bool(routed.all())
        if (
            self.first_faulty_green is None
            and (green_share > 0 or self.mixed_revisions)
            and cols["faulty"][: table.size].any()
        ):
            hit = (rev == GREEN) & routed
            if kind is not None:
                hit &= kind == PRODUCTION
            hit &= cols["faulty"][tk[:n_req]] > 0
            if hit.any():
                self.first_faulty_green = float(time[np.argmax(hit)])
        chunk = {
            "arrival": time,
            "finish": finish[:n_req] if all_routed else np.where(routed, finish[:n_req], time),
            "task": task,
            "revision": rev,
            "status": status[:n_req] if all_routed else np.where(routed, status[:n_req], 503),
        }
        if kind is not None:
            chunk["kind"], chunk["source"] = kind, source
        if self.world.recorder.record_requests:
            chunk["start"] = start[:n_req]
        self._chunks.append(chunk)

    def _groups_in_service(self) -> tuple[bool, bool]:
        alb = self.world.alb
        return tuple(len(alb.target_group(name).in_service_ids()[0]) > 0 for name in REVISIONS)

    def _add_test_traffic(self, t1, green_share, time, rev, kind, source):
        rngs = self.world.rngs
        times, revs, kinds, sources = [time], [rev], [kind], [source]
        for src in self.testing:
            if src.next >= len(src.times):
                continue
            t = src.take(t1)
            if not len(t):
                continue
            if src.via == "test":
                r = np.full(len(t), GREEN, np.int8)
            else:
                r = (rngs.hooks.random(len(t)) < green_share).astype(np.int8)
            times.append(t)
            revs.append(r)
            kinds.append(np.full(len(t), TEST, np.int8))
            sources.append(np.full(len(t), src.id, np.int32))
        return (
            np.concatenate(times),
            np.concatenate(revs),
            np.concatenate(kinds),
            np.concatenate(sources),
        )


def _rev(task: Task) -> int:
    return GREEN if task.revision == "green" else BLUE


def _window_order(windows, time, probe_time, sorted_times: bool) -> np.ndarray:
    """Where the probes' draws are when windows are served one at a time.

    A window served alone draws for its requests, then for its probes. Serving windows
    together puts all requests first, then all probes; a draw of n numbers equals n draws of
    one, so the probes take the numbers at the returned positions of one draw for all rows,
    and the requests the others, in order (see :func:`_take`).
    """
    if sorted_times:  # requests in time order: count those before each probe's window ends
        ends = np.array([b for _, b in windows])
        w_probe = np.searchsorted(ends, probe_time, side="right")
        return np.searchsorted(time, ends[w_probe], side="left") + np.arange(len(probe_time))
    starts = np.array([a for a, _ in windows])
    w_req = np.searchsorted(starts, time, side="right") - 1
    w_probe = np.searchsorted(starts, probe_time, side="right") - 1
    req_upto = np.cumsum(np.bincount(w_req, minlength=len(windows)))
    return req_upto[w_probe] + np.arange(len(probe_time))
