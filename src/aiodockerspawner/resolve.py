"""Configuration and user options, resolved into the neutral spec a backend creates.

Callables are evaluated, templates rendered (every host path checked), byte
sizes parsed and the environment built here, so that the spec carries final
values only; bad configuration is an :class:`InvalidSpec` naming the setting,
raised before any Docker request.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyterhub.spawner import Spawner
from traitlets import HasTraits

from aiodockerspawner._version import __version__
from aiodockerspawner.core import naming
from aiodockerspawner.errors import InvalidSpec
from aiodockerspawner.labels import (
    LABEL_HUB,
    LABEL_MANAGED_BY,
    LABEL_MEM_GUARANTEE,
    LABEL_MEM_LIMIT,
    LABEL_SERVER,
    LABEL_USER,
    LABEL_VERSION,
)
from aiodockerspawner.model import AddressPolicy, ObjectSpec
from aiodockerspawner.units import parse_bytes


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class SpecResolver(HasTraits):
    """``build_spec()`` and its parts, as a mixin of DockerSpawner."""

    if TYPE_CHECKING:  # the rest of DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    async def _evaluate(self, trait: str) -> Any:
        value = getattr(self, trait)
        if callable(value):
            value = await _maybe_await(value(self))
        return value

    async def _resource(self, trait: str, kind: str) -> Any:
        function = self._resource_callable(trait)
        value = await self._evaluate(trait) if function is None else function(self)
        value = await _maybe_await(value)
        if value is None:
            return None
        number: float
        try:
            if kind == "bytes":
                number = parse_bytes(value, key=f"DockerSpawner.{trait}")
            else:
                number = float(value)
        except (TypeError, ValueError) as e:
            raise InvalidSpec(f"DockerSpawner.{trait}: invalid value {value!r}") from e
        if number < 0:
            raise InvalidSpec(f"DockerSpawner.{trait}: must not be negative, got {value!r}")
        if function is not None:
            self._set_evaluated(trait, int(number) if kind == "bytes" else number)
        # 0 is no limit, as Docker (and so dockerspawner) reads it; the unset limits read 0
        return number or None

    async def _extra(self, trait: str) -> dict[str, Any]:
        value = await self._evaluate(trait)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise InvalidSpec(f"DockerSpawner.{trait}: expected a dict, got {type(value).__name__}")
        ns = self.template_namespace()
        setting = self._setting(trait)
        for where, template in naming.host_path_templates(value):
            self._checked_path(
                template, str(naming.render_templates(template, ns)), setting + where
            )
        rendered = naming.render_templates(dict(value), ns)
        return dict(rendered)

    def _setting(self, trait: str) -> str:
        """``Class.trait`` as a configuration file writes it (the class defining it).

        A trait declared in a mixin (``config/``, ``SystemUserMixin``) is
        configured under the spawner class that takes the mixin in.
        """
        mro = type(self).__mro__
        owner = next((c for c in mro if trait in vars(c)), type(self))
        while not issubclass(owner, Spawner):
            owner = next((c for c in mro if owner in c.__bases__), type(self))
        return f"{owner.__name__}.{trait}"

    def _labels(self) -> dict[str, str]:
        return {
            LABEL_MANAGED_BY: "aiodockerspawner",
            LABEL_HUB: self.hub_id,
            LABEL_USER: self.user.name,
            LABEL_SERVER: self.name or "",
            LABEL_VERSION: __version__,
        }

    async def build_spec(self) -> ObjectSpec:
        """Resolve configuration into the neutral spec; raises InvalidSpec on bad config."""
        binds = self._volume_bind_list()
        mounts = self.mount_binds
        limits = {
            "mem_limit": await self._resource("mem_limit", "bytes"),
            "mem_guarantee": await self._resource("mem_guarantee", "bytes"),
            "cpu_limit": await self._resource("cpu_limit", "cores"),
            "cpu_guarantee": await self._resource("cpu_guarantee", "cores"),
        }
        labels = self._labels()
        for label, value in (
            (LABEL_MEM_LIMIT, limits["mem_limit"]),
            (LABEL_MEM_GUARANTEE, limits["mem_guarantee"]),
        ):
            if value is not None:
                labels[label] = str(int(value))  # what capacity limits count
        env = {k: str(v) for k, v in self.get_env().items()}
        for trait, value in limits.items():
            # the base class exports the configured value; export the evaluated one
            env.pop(trait.upper(), None)
            if value is not None:
                env[trait.upper()] = str(value)
        return ObjectSpec(
            name=self.object_name,
            image=self.image,
            env=env,
            command=list(self.cmd) if self.cmd else None,
            args=[str(a) for a in self.get_args()],
            port=self.port,
            labels=labels,
            network=self.network_name,
            host_ip=None if self.use_internal_ip else self.host_ip,
            binds=binds,
            mounts=mounts,
            links=dict(self.links),
            mem_limit=limits["mem_limit"],
            mem_guarantee=limits["mem_guarantee"],
            cpu_limit=limits["cpu_limit"],
            cpu_guarantee=limits["cpu_guarantee"],
            auto_remove=self.remove,
            extra_create=await self._extra("extra_create_kwargs"),
            extra_host_config=await self._extra("extra_host_config"),
            gpus=await self._gpu_request(),
        )

    def address_policy(self) -> AddressPolicy:
        return AddressPolicy(
            use_internal_ip=self.use_internal_ip,
            use_internal_hostname=self.use_internal_hostname,
            network=self.network_name,
            port=self.port,
            host_ip=self.host_ip,
        )
