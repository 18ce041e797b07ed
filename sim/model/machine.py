"""A machine's physical cores, shared by its running tasks' threads (egalitarian processor sharing).

The operating system shares the cores among runnable threads, so the model shares them per
thread: with k runnable threads on a machine whose tasks can use `capacity` cores, every thread
runs at rate min(1, capacity / (k * penalty)), and a task with several threads (numpy's
OpenBLAS uses one per visible core unless told otherwise) of which `useful` threads' worth do
work counts `useful` runnable threads and progresses at `useful` times that rate. Threads that
do no work do not hold a core: OpenBLAS's idle threads spin a moment, then sleep. On this
project's machine a Chainer MLP task with 2 BLAS threads ran no faster alone than its per-item
CPU under contention, and its runs were predicted best with one thread per task: 1.8 % median
held-out error against 8.0 % when both threads took a core share (README, "Other jobs"). With
one thread per task this is the classic min(1, cores / n):
an oversubscribed box (several worker hosts on one machine) slows all its tasks equally.
Two refinements, each 0 (off) unless a calibrated cost model sets it:
- `capacity` is the machine's cores less a background load per executor on it (each executor
  is a JVM with its own heartbeats, GC and shuffle service: `executor_background_cores`);
- `penalty` = 1 + `oversubscription_penalty` x (k - capacity) / capacity once k exceeds the
  capacity: many runnable processes do less work per second than few (context switches,
  caches, spinning BLAS threads);

The queue is event-driven with a virtual clock, as processor-sharing queues are usually
simulated: `virtual` is the service one thread has received since the machine started, it
advances at the current per-thread rate, and a task arriving with `w` CPU seconds of work and
`u` useful threads completes when `virtual` reaches arrival-virtual + w / u. Tasks sit in a heap by that finish
tag, so an arrival or departure costs O(log n) and only the next completion is ever scheduled:
one SimPy timeout, replaced only when the next completion time actually changes (superseded
timeouts are ignored by token), so a task costs about one or two SimPy events. A machine that
can never be oversubscribed (`dedicated`: at least as many cores as task slots on it) skips
the bookkeeping: each task is one event at its own finish time.

That event is a `_Completion`, not a `simpy.Timeout`: it is put on SimPy's queue with the
public `Environment.schedule(event, NORMAL, delay)`, exactly as `Timeout.__init__` does, so it
gets the same time, priority and event id, and SimPy's loop processes it in the same order;
it only skips the Timeout's set-up (a task needs nothing but its callback and its value).
"""

from __future__ import annotations

import heapq
from typing import Any, Callable

import simpy
from simpy.events import NORMAL

# Two finish tags closer than this (virtual seconds) complete together: float rounding of the
# virtual clock must not leave a task a few ulps short of done.
_ABS_EPS = 1e-9
_REL_EPS = 1e-12


class _Completion:
    """What `Environment.step()` needs of a processed event: `callbacks` and `_ok`."""

    __slots__ = ("callbacks", "task")
    _ok = True


class Machine:
    """One machine's cores, shared by the tasks running on it; `on_complete(task)` as each ends."""

    __slots__ = ("env", "name", "cores", "on_complete", "dedicated", "_heap", "_virtual", "_updated_at",
                 "_token", "_next_at", "_seq", "_done_callbacks", "capacity", "penalty", "_threads",
                 "_threads_of")

    def __init__(self, env: simpy.Environment, name: str, cores: int,
                 on_complete: Callable[[Any], None], max_running: int | None = None,
                 oversubscription_penalty: float = 0.0):
        if cores < 1:
            raise ValueError(f"machine {name!r}: cores must be >= 1")
        self.env = env
        self.name = name
        self.cores = cores
        self.on_complete = on_complete
        # No more threads than cores can ever run here: every task runs at rate 1. (A caller
        # with multi-threaded tasks or a background load passes max_running=None.)
        self.dedicated = max_running is not None and max_running <= cores
        self.capacity = float(cores)             # cores left to tasks (less executors' background)
        self.penalty = oversubscription_penalty  # loss of throughput per unit of oversubscription
        self._threads = 0                        # runnable threads of the running tasks
        self._threads_of: dict[int, float] = {}  # arrival seq -> runnable threads, for tasks of more than one
        self._heap: list[tuple[float, int, Any]] = []   # (finish tag, arrival seq, task)
        self._virtual = 0.0
        self._updated_at = 0.0
        self._token = 0
        self._next_at: float | None = None
        self._seq = 0
        # Shared by every completion: step() only iterates it (and then sets the event's to None).
        self._done_callbacks = (self._dedicated_done,)

    def rate(self) -> float:
        """Speed of each runnable thread: 1 until the cores are oversubscribed."""
        k = self._threads
        cap = self.capacity
        if k <= cap:
            return 1.0
        if self.penalty:
            return cap / (k * (1.0 + self.penalty * (k - cap) / cap))
        return self.cores / k if cap == self.cores else cap / k

    def set_capacity(self, capacity: float) -> None:
        """The cores left to tasks changed (an executor registered): re-time the running ones."""
        self._advance()
        self.capacity = max(capacity, 1e-3 * self.cores)
        self._reschedule()

    def start(self, task: Any, work: float) -> None:
        """Begin serving `task`, one thread needing `work` CPU seconds; `on_complete(task)` follows."""
        if self.dedicated:
            if work < 0:
                raise ValueError(f"Negative delay {work}")   # as Timeout would
            done = _Completion()
            done.callbacks = self._done_callbacks
            done.task = task
            self.env.schedule(done, NORMAL, work)   # what Timeout(env, work) does
            return
        self._advance()
        self._seq += 1
        heapq.heappush(self._heap, (self._virtual + work, self._seq, task))
        self._threads += 1
        self._reschedule()

    def start_threads(self, task: Any, work: float, useful: float) -> None:
        """Begin serving `task`, which needs `work` CPU seconds done by `useful` threads' worth of
        runnable threads; `on_complete(task)` follows."""
        if self.dedicated:   # alone on its cores: it runs `useful` times as fast
            done = _Completion()
            done.callbacks = self._done_callbacks
            done.task = task
            self.env.schedule(done, NORMAL, work / useful)
            return
        self._advance()
        self._seq += 1
        heapq.heappush(self._heap, (self._virtual + work / useful, self._seq, task))
        self._threads += useful
        self._threads_of[self._seq] = useful
        self._reschedule()

    def _dedicated_done(self, event: _Completion) -> None:
        self.on_complete(event.task)

    def _advance(self) -> None:
        now = self.env.now
        if now > self._updated_at:
            if self._heap:
                self._virtual += (now - self._updated_at) * self.rate()
            self._updated_at = now

    def _reschedule(self) -> None:
        heap = self._heap
        if not heap:
            self._next_at = None
            self._token += 1
            return
        now = self.env.now
        delay = max(0.0, (heap[0][0] - self._virtual) / self.rate())
        at = now + delay
        if self._next_at is not None and abs(at - self._next_at) <= _ABS_EPS + _REL_EPS * at:
            return  # the pending timeout is still right
        self._token += 1
        self._next_at = at
        token = self._token
        self.env.timeout(delay).callbacks.append(lambda _ev: self._fire(token))

    def _fire(self, token: int) -> None:
        if token != self._token:
            return  # superseded by a later reschedule
        self._next_at = None
        self._advance()
        heap = self._heap
        limit = self._virtual + _ABS_EPS + _REL_EPS * abs(self._virtual)
        done = []
        threads_of = self._threads_of
        while heap and heap[0][0] <= limit:
            _, seq, task = heapq.heappop(heap)
            self._threads -= threads_of.pop(seq, 1) if threads_of else 1
            done.append(task)
        if heap:
            self._reschedule()
        else:
            self._token += 1
        for task in done:
            self.on_complete(task)
