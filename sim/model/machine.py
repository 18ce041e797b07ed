"""A machine's physical cores, shared by its running tasks (egalitarian processor sharing).

Every task running on a machine progresses at rate min(1, cores / running): a task never uses
more than one core, and an oversubscribed box (several worker hosts on one machine) slows all
its tasks equally. The queue is event-driven with a virtual clock, as processor-sharing
queues are usually simulated: `virtual` is the service one task has received since the
machine started, it advances at the current rate, and a task arriving with `w` CPU seconds of
work completes when `virtual` reaches arrival-virtual + w. Tasks sit in a heap by that finish
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
                 "_token", "_next_at", "_seq", "_done_callbacks")

    def __init__(self, env: simpy.Environment, name: str, cores: int,
                 on_complete: Callable[[Any], None], max_running: int | None = None):
        if cores < 1:
            raise ValueError(f"machine {name!r}: cores must be >= 1")
        self.env = env
        self.name = name
        self.cores = cores
        self.on_complete = on_complete
        # No more tasks than cores can ever run here: every task runs at rate 1.
        self.dedicated = max_running is not None and max_running <= cores
        self._heap: list[tuple[float, int, Any]] = []   # (finish tag, arrival seq, task)
        self._virtual = 0.0
        self._updated_at = 0.0
        self._token = 0
        self._next_at: float | None = None
        self._seq = 0
        # Shared by every completion: step() only iterates it (and then sets the event's to None).
        self._done_callbacks = (self._dedicated_done,)

    def rate(self) -> float:
        """Speed of each running task: 1 until the cores are oversubscribed."""
        n = len(self._heap)
        return 1.0 if n <= self.cores else self.cores / n

    def start(self, task: Any, work: float) -> None:
        """Begin serving `task`, which needs `work` CPU seconds; `on_complete(task)` follows."""
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
        while heap and heap[0][0] <= limit:
            done.append(heapq.heappop(heap)[2])
        if heap:
            self._reschedule()
        else:
            self._token += 1
        for task in done:
            self.on_complete(task)
