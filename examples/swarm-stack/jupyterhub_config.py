# JupyterHub as a Docker Swarm service, spawning each user's server as a
# one-replica swarm service on the stack's overlay network (see README.md).
#
# Settings that vary per installation come from the environment that
# docker-stack.yml passes in, with the defaults given there.
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by JupyterHub)

# -- the Hub ------------------------------------------------------------------
c.JupyterHub.bind_url = "http://:8000"
# The Hub's API listens on the task's interfaces; servers call it by the
# service name, which the overlay network's DNS resolves (docker-stack.yml
# gives the Hub DNS round-robin, so the name is the task's own address).
c.JupyterHub.hub_ip = "0.0.0.0"
c.JupyterHub.hub_connect_ip = "jupyterhub"
# The database and cookie secret live in the hub-data volume.
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/data/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/data/jupyterhub_cookie_secret"
# Servers keep running while the Hub's task is replaced; the new task adopts them.
c.JupyterHub.cleanup_servers = False

# A login to try the deployment: any user name with one shared password (at
# least 8 characters). Replace it with a real authenticator before users arrive.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["SHARED_PASSWORD"]
c.Authenticator.allow_all = True

# -- the servers --------------------------------------------------------------
c.JupyterHub.spawner_class = "aiodocker-swarm"
c.SwarmSpawner.image = os.environ["SINGLEUSER_IMAGE"]
# The stack's attachable overlay network: the Hub reaches each server at its
# task's IP there (use_internal_ip is True when network_name is set).
c.SwarmSpawner.network_name = os.environ["DOCKER_NETWORK_NAME"]
# Pinned, so that the Hub recognises its services whatever happens to its
# database path; unique per Hub on this swarm.
c.SwarmSpawner.hub_id = os.environ["HUB_ID"]
c.SwarmSpawner.prefix = os.environ["SPAWNER_PREFIX"]
# One named volume per user, created on the node that runs the server (a
# multi-node swarm needs a volume driver shared by the nodes, or placement).
c.SwarmSpawner.volumes = {"{prefix}-{username}-work": "/home/jovyan/work"}
