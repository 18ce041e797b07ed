"""What the scheduler knows about executors: which are alive, on which host and rack.

Spark's TaskSchedulerImpl learns executors from the offers it is made (an executor is
"alive" once it has appeared in an offer, even with 0 free cores) and forgets them on
executor loss. TaskSetManagers ask it whether an executor, a host or a rack is alive when
they compute their valid locality levels. Racks come from a host -> rack map (standalone
has none: `getRacksForHosts` returns None there).
"""

from __future__ import annotations

from collections.abc import Mapping


class ExecutorRegistry:
    def __init__(self, racks: Mapping[str, str] | None = None):
        self._racks = dict(racks or {})
        self.executor_host: dict[str, str] = {}
        self.host_executors: dict[str, set[str]] = {}
        self.rack_hosts: dict[str, set[str]] = {}

    def rack_of(self, host: str) -> str | None:
        return self._racks.get(host)

    def add(self, executor_id: str, host: str) -> bool:
        """Register an executor; True when it was not known before (Spark's newExecAvail)."""
        if executor_id in self.executor_host:
            return False
        self.executor_host[executor_id] = host
        self.host_executors.setdefault(host, set()).add(executor_id)
        rack = self.rack_of(host)
        if rack is not None:
            self.rack_hosts.setdefault(rack, set()).add(host)
        return True

    def remove(self, executor_id: str) -> str | None:
        """Forget an executor; returns its host (None if it was unknown)."""
        host = self.executor_host.pop(executor_id, None)
        if host is None:
            return None
        executors = self.host_executors.get(host)
        if executors is not None:
            executors.discard(executor_id)
            if not executors:
                # The last executor on a host takes the host (and maybe its rack) with it.
                del self.host_executors[host]
                rack = self.rack_of(host)
                if rack is not None and rack in self.rack_hosts:
                    self.rack_hosts[rack].discard(host)
                    if not self.rack_hosts[rack]:
                        del self.rack_hosts[rack]
        return host

    def is_executor_alive(self, executor_id: str) -> bool:
        return executor_id in self.executor_host

    def has_executors_alive_on_host(self, host: str) -> bool:
        return bool(self.host_executors.get(host))

    def has_host_alive_on_rack(self, rack: str) -> bool:
        return bool(self.rack_hosts.get(rack))

    def executors_on_host(self, host: str) -> list[str]:
        return sorted(self.host_executors.get(host, ()))
