"""dockerspawner 14.0.0's SwarmSpawner, able to reach its servers on this machine.

dockerspawner publishes a service's port through the ingress routing mesh and
connects to ``host_ip`` and the service's published port. The mesh needs IPVS
in the kernel, which the benchmark machine lacks, so the benchmark gives it
host-mode publishing (``extra_endpoint_spec`` in the Hub's configuration) and
this ``get_ip_and_port``, which reads the port the node published from the
task: one request, as its own reads the service. Nothing else is changed.
Loaded only by the dockerspawner Hub (its own virtualenv).
"""

from __future__ import annotations

from dockerspawner import SwarmSpawner


class HostPublishSwarmSpawner(SwarmSpawner):  # type: ignore[misc]
    async def get_ip_and_port(self) -> tuple[str, int]:
        tasks = await self.docker(
            "tasks", filters={"service": self.service_name, "desired-state": "running"}
        )
        for task in tasks:
            for port in task["Status"].get("PortStatus", {}).get("Ports", []):
                if port.get("TargetPort") == self.port:
                    return "127.0.0.1", int(port["PublishedPort"])
        raise RuntimeError(f"no published port for {self.service_name}")
