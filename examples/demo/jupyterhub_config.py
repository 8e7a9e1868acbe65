# A local demo: JupyterHub on http://127.0.0.1:8000 that spawns each user's
# server as a Docker container with aiodockerspawner.
#
#   nox -s demo
#
# (or: scripts/ensure-services && jupyterhub -f examples/demo/jupyterhub_config.py,
# from a scratch directory, as the Hub writes its database and cookie secret
# into the working directory). Log in with any user name and any password.
import subprocess

import jupyterhub

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by JupyterHub)


def docker0_ipv4(default: str = "172.17.0.1") -> str:
    """The host's address on the docker0 bridge, where containers can reach it."""
    try:
        out = subprocess.run(
            ["ip", "-4", "-o", "addr", "show", "docker0"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return default
    # A line looks like: "3: docker0    inet 172.17.0.1/16 brd ... scope global docker0"
    fields = out.split()
    if "inet" in fields:
        return fields[fields.index("inet") + 1].split("/")[0]
    return default


# Spawn through the "aiodocker" entry point, i.e. aiodockerspawner:DockerSpawner.
c.JupyterHub.spawner_class = "aiodocker"

# No real authentication: any name with any password logs in (never expose this).
c.JupyterHub.authenticator_class = "dummy"
# Let every user who logs in use the Hub, not only an allow-list.
c.Authenticator.allow_all = True

# The public address of the proxy, the only one users open; loopback only.
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
# The Hub's API listens on every interface so that containers can call it...
c.JupyterHub.hub_ip = "0.0.0.0"
# ...and the containers are told to call it on the host's docker0 address.
c.JupyterHub.hub_connect_ip = docker0_ipv4()

# The local test image scripts/build-images makes, with the Hub's own jupyterhub version.
c.DockerSpawner.image = f"aiodockerspawner-test/singleuser:{jupyterhub.__version__}"
# Delete each container when its server stops, so a new spawn starts clean.
c.DockerSpawner.remove = True
# Stop the users' servers when the Hub shuts down, rather than leaving them running.
c.JupyterHub.cleanup_servers = True
