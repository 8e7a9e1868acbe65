"""move_certs against a real daemon: the files are in /certs before the server starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import docker_cli, make_spawner

pytestmark = pytest.mark.docker

#: records what /certs held when the container's command started, then serves
CMD = ["sh", "-c", "ls -n /certs > /tmp/certs-at-start; exec /bin/serve"]


def write_certs(directory: Path, tag: str) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, name in [("keyfile", "u.key"), ("certfile", "u.crt"), ("cafile", "ca.crt")]:
        path = directory / name
        path.write_text(f"{name} {tag}\n")
        path.chmod(0o600)  # as JupyterHub leaves them: readable by the Hub only
        paths[key] = str(path)
    return paths


async def read_as_server_user(container: str, path: str) -> str:
    return await docker_cli("exec", "-u", "1000:1000", container, "cat", path)


async def test_certs_are_copied_into_the_container_before_it_starts(
    tiny_image: str, tmp_path: Path
) -> None:
    spawner = make_spawner(
        image=tiny_image, internal_ssl=True, remove=False, stop_grace_period=0, cmd=CMD
    )
    assert spawner.use_internal_hostname is True
    spawner.cert_paths = await spawner.move_certs(write_certs(tmp_path / "one", "first"))
    assert spawner.cert_paths == {
        "keyfile": "/certs/u.key",
        "certfile": "/certs/u.crt",
        "cafile": "/certs/ca.crt",
    }
    try:
        url = await spawner.start()
        assert url == f"https://{spawner.object_name}:8888"
        name = spawner.object_name
        listing = await docker_cli("exec", name, "cat", "/tmp/certs-at-start")
        assert {line.split()[-1] for line in listing.splitlines()[1:]} == {
            "u.key",
            "u.crt",
            "ca.crt",
        }
        assert all(line.startswith("-rw-r--r--") for line in listing.splitlines()[1:])
        # readable by an unprivileged server process
        assert await read_as_server_user(name, "/certs/u.key") == "u.key first\n"
        env = await docker_cli("inspect", name, "--format", "{{json .Config.Env}}")
        assert '"JUPYTERHUB_SSL_KEYFILE=/certs/u.key"' in env
        assert '"JUPYTERHUB_SSL_CLIENT_CA=/certs/ca.crt"' in env
        # no helper image, no certificate volume
        volumes = await docker_cli("volume", "ls", "-q", "--filter", f"name={spawner.prefix}ssl")
        assert volumes.strip() == ""

        # a resumed container gets the certificates of the new spawn
        await spawner.stop()
        spawner.cert_paths = await spawner.move_certs(write_certs(tmp_path / "two", "second"))
        await spawner.start()
        assert await read_as_server_user(name, "/certs/u.key") == "u.key second\n"
    finally:
        await docker_cli("rm", "-f", spawner.object_name, check=False)
