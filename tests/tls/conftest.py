"""A remote Docker daemon behind TLS: a private dockerd on a loopback TCP port.

The daemon (tests/privatedockerd.py) listens with ``--tlsverify`` on
``tcp://127.0.0.1:<port>``, with a CA, a server certificate and client
certificates that :mod:`tests.tls.certs` makes for this session. Hubs come
from the end-to-end tier's factory (``start_hub``).
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, start_hub
from tests.privatedockerd import DaemonTLS, PrivateDockerd
from tests.tls.certs import CertificateAuthority, Issued, cert_path_dir

__all__ = ["Certificates", "start_hub"]


@dataclass(frozen=True)
class Certificates:
    """What the test made: the daemon's CA and a valid client pair, and bad ones."""

    ca: Path
    client: Issued
    #: a client pair of the daemon's CA whose validity ended yesterday
    expired_client: Issued
    #: the CA certificate of another authority, which did not sign the daemon's
    wrong_ca: Path
    #: ``DOCKER_CERT_PATH`` directories (ca.pem, cert.pem, key.pem)
    cert_path: Path
    expired_cert_path: Path
    wrong_ca_cert_path: Path


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Certificates, Issued]:
    root = tmp_path_factory.mktemp("tls")
    ca = CertificateAuthority(root / "ca")
    server = ca.issue("server", "dockerd", server=True)
    client = ca.issue("client", "hub")
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = ca.issue(
        "expired",
        "hub",
        not_before=now - datetime.timedelta(days=10),
        not_after=now - datetime.timedelta(days=1),
    )
    wrong = CertificateAuthority(root / "wrong", "another CA")
    made = Certificates(
        ca=ca.path,
        client=client,
        expired_client=expired,
        wrong_ca=wrong.path,
        cert_path=cert_path_dir(root / "docker-certs", ca.path, client),
        expired_cert_path=cert_path_dir(root / "docker-certs-expired", ca.path, expired),
        wrong_ca_cert_path=cert_path_dir(root / "docker-certs-wrong-ca", wrong.path, client),
    )
    return made, server


@pytest.fixture(scope="module")
async def tls_daemon(
    certificates: tuple[Certificates, Issued], tiny_image: str
) -> AsyncIterator[PrivateDockerd]:
    made, server = certificates
    tls = DaemonTLS(free_port(), made.ca, server.cert, server.key)
    async with PrivateDockerd(tls=tls) as daemon:
        await daemon.load_image(tiny_image)
        yield daemon


@pytest.fixture
def certs(certificates: tuple[Certificates, Issued]) -> Certificates:
    return certificates[0]
