"""dockerspawner's deprecated configuration names, accepted with a warning.

Old configuration files keep working: each old name is a real trait (so
``c.DockerSpawner.container_image = ...`` is loaded like any other setting),
and one observer, driven by the tables below, logs a warning and forwards the
value to its replacement. The warning names the class of the instance, e.g.
``SwarmSpawner.image_whitelist is deprecated in DockerSpawner 12.0, use
SwarmSpawner.allowed_images instead``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, HasTraits, Int, List, Unicode, Union, default, observe

__all__ = [
    "LEGACY_TLS_TRAITS",
    "RENAMED",
    "DeprecatedTraits",
    "Renamed",
    "deprecation_message",
    "legacy_tls_config",
]


@dataclass(frozen=True)
class Renamed:
    """An old trait name that forwards its value to ``new`` on the same class."""

    new: str
    #: the dockerspawner version that deprecated the old name
    version: str


#: old name -> replacement, exactly as dockerspawner deprecated them
RENAMED: Mapping[str, Renamed] = {
    "container_ip": Renamed("host_ip", "0.9.*"),
    "container_port": Renamed("port", "0.9.*"),
    "container_image": Renamed("image", "0.9.*"),
    "container_prefix": Renamed("prefix", "0.10.0"),
    "container_name_template": Renamed("name_template", "0.10.0"),
    "remove_containers": Renamed("remove", "0.10.0"),
    "image_whitelist": Renamed("allowed_images", "12.0"),
}

#: the pre-``tls_config`` TLS settings; they are folded into ``tls_config``
LEGACY_TLS_TRAITS = ("tls", "tls_verify", "tls_ca", "tls_cert", "tls_key", "tls_assert_hostname")
_TLS_VERSION = "0.8"
_HUB_IP_CONNECT_VERSION = "0.9"


def deprecation_message(cls_name: str, old: str, version: str, new: str) -> str:
    """The warning for a deprecated name; ``new`` may be ``Class.trait`` or a bare trait."""
    target = new if "." in new else f"{cls_name}.{new}"
    return f"{cls_name}.{old} is deprecated in DockerSpawner {version}, use {target} instead"


def legacy_tls_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """Translate the legacy ``tls*`` settings into ``tls_config`` keys.

    The mapping follows docker-py's ``TLSConfig``, which the old settings fed:
    ``tls_verify`` → ``verify``, ``tls_ca`` → ``ca_cert``, ``tls_cert`` and
    ``tls_key`` → ``client_cert`` (both are needed), ``tls_assert_hostname``
    → ``assert_hostname``. ``tls = True`` alone asks for TLS with the system's
    certificate authorities. Unset (``None``) values contribute nothing.
    """
    config: dict[str, Any] = {}
    if values.get("tls_verify") is not None:
        config["verify"] = bool(values["tls_verify"])
    if values.get("tls_ca"):
        config["ca_cert"] = str(values["tls_ca"])
        config.setdefault("verify", True)
    cert, key = values.get("tls_cert"), values.get("tls_key")
    if cert and key:
        config["client_cert"] = (str(cert), str(key))
    if values.get("tls_assert_hostname") is not None:
        config["assert_hostname"] = values["tls_assert_hostname"]
    if values.get("tls") and not config:
        config["verify"] = True
    return config


class DeprecatedTraits(HasTraits):
    """The deprecated names of dockerspawner's configuration, as a mixin of DockerSpawner.

    It is a plain ``HasTraits`` (not a ``Configurable``), so it adds no
    configuration section of its own: the traits are configured as
    ``c.DockerSpawner.<old name>`` like the rest.
    """

    if TYPE_CHECKING:  # provided by DockerSpawner and JupyterHub's Spawner

        def __getattr__(self, name: str) -> Any: ...

    container_ip = Unicode(
        "127.0.0.1", help="Deprecated since dockerspawner 0.9: use ``host_ip``."
    ).tag(config=True)
    container_port = Int(
        8888, min=1, max=65535, help="Deprecated since dockerspawner 0.9: use ``port``."
    ).tag(config=True)
    container_image = Unicode(help="Deprecated since dockerspawner 0.9: use ``image``.").tag(
        config=True
    )

    @default("container_image")
    def _default_container_image(self) -> str:
        return str(self.image)

    container_prefix = Unicode(help="Deprecated since dockerspawner 0.10: use ``prefix``.").tag(
        config=True
    )
    container_name_template = Unicode(
        help="Deprecated since dockerspawner 0.10: use ``name_template``."
    ).tag(config=True)
    remove_containers = Bool(
        False, help="Deprecated since dockerspawner 0.10: use ``remove``."
    ).tag(config=True)
    image_whitelist = Union(
        [AnyTrait(), Dict(), List()],
        default_value=None,
        help="Deprecated since dockerspawner 12.0: use ``allowed_images``.",
    ).tag(config=True)

    tls = AnyTrait(help="Deprecated: use ``tls_config``. ``True`` asks for TLS.").tag(config=True)
    tls_verify = AnyTrait(help="Deprecated: use ``tls_config['verify']``.").tag(config=True)
    tls_ca = AnyTrait(help="Deprecated: use ``tls_config['ca_cert']``.").tag(config=True)
    tls_cert = AnyTrait(help="Deprecated: use ``tls_config['client_cert']``.").tag(config=True)
    tls_key = AnyTrait(help="Deprecated: use ``tls_config['client_cert']``.").tag(config=True)
    tls_assert_hostname = AnyTrait(help="Deprecated: use ``tls_config['assert_hostname']``.").tag(
        config=True
    )

    use_docker_client_env = Bool(
        True,
        help="""
        Deprecated and ignored: ``DOCKER_HOST``, ``DOCKER_TLS_VERIFY`` and
        ``DOCKER_CERT_PATH`` are always read when they are set.
        """,
    ).tag(config=True)

    hub_ip_connect = Unicode(
        help="""
        Deprecated since dockerspawner 0.9: use ``JupyterHub.hub_connect_ip``.
        Still honoured: when set (and ``hub_connect_url`` is not), servers
        reach the Hub API at this address, on the Hub's own port.
        """,
    ).tag(config=True)

    @observe(*RENAMED)
    def _forward_renamed(self, change: Any) -> None:
        renamed = RENAMED[change.name]
        if getattr(self, renamed.new) == change.new:
            return  # nothing to forward: keep old configurations quiet
        self.log.warning(
            deprecation_message(self.__class__.__name__, change.name, renamed.version, renamed.new)
        )
        setattr(self, renamed.new, change.new)

    @observe(*LEGACY_TLS_TRAITS)
    def _warn_legacy_tls(self, change: Any) -> None:
        self.log.warning(
            deprecation_message(self.__class__.__name__, change.name, _TLS_VERSION, "tls_config")
        )

    @observe("use_docker_client_env")
    def _warn_client_env(self, change: Any) -> None:
        # dockerspawner's observer takes no `change` and raises TypeError here
        self.log.warning(
            "%s.use_docker_client_env is deprecated and ignored: the DOCKER_HOST, "
            "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH variables are always used when set",
            self.__class__.__name__,
        )

    @observe("hub_ip_connect")
    def _warn_hub_ip_connect(self, change: Any) -> None:
        if change.new:
            self.log.warning(
                deprecation_message(
                    self.__class__.__name__,
                    "hub_ip_connect",
                    _HUB_IP_CONNECT_VERSION,
                    "JupyterHub.hub_connect_ip",
                )
            )

    @default("hub_connect_url")
    def _default_hub_connect_url(self) -> str | None:
        if not self.hub_ip_connect:
            return None
        api = urlsplit(self.hub.api_url)
        host = f"[{self.hub_ip_connect}]" if ":" in self.hub_ip_connect else self.hub_ip_connect
        port = f":{api.port}" if api.port else ""
        return f"{api.scheme}://{host}{port}"

    def effective_tls_config(self) -> dict[str, Any]:
        """``tls_config`` with the legacy ``tls*`` settings folded in (``tls_config`` wins)."""
        legacy = legacy_tls_config({name: getattr(self, name) for name in LEGACY_TLS_TRAITS})
        return {**legacy, **self.tls_config}

    @property
    def tls_client(self) -> tuple[str, str] | None:
        """The legacy ``(tls_cert, tls_key)`` pair, or None unless both are set."""
        if self.tls_cert and self.tls_key:
            return (str(self.tls_cert), str(self.tls_key))
        return None

    async def check_image_whitelist(self, image: str) -> str:
        """Deprecated alias of :meth:`check_allowed`."""
        cls = self.__class__.__name__
        warnings.warn(
            f"{cls}.check_image_whitelist is deprecated in DockerSpawner 12.0. "
            f"Please use {cls}.check_allowed instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        result: str = await self.check_allowed(image)
        return result
