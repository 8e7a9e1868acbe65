# JupyterHub in a container, spawning each user's server as a sibling
# container on the same user-defined network (see README.md).
#
# Settings that vary per installation come from the environment that
# docker-compose.yml passes in, with the defaults given there.
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by JupyterHub)

# -- the Hub ------------------------------------------------------------------
# The proxy listens on port 8000 of the container; docker-compose.yml
# publishes it on the host.
c.JupyterHub.bind_url = "http://:8000"
# The Hub's API listens on the container's interfaces...
c.JupyterHub.hub_ip = "0.0.0.0"
# ...and servers call it by the Hub's service name, which Docker's DNS
# resolves on the user-defined network (the Hub's IP may change on restart).
c.JupyterHub.hub_connect_ip = "jupyterhub"
# The database and cookie secret live in the hub-data volume, so that they
# survive a new Hub container.
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/data/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/data/jupyterhub_cookie_secret"
# Servers keep running while the Hub restarts or is upgraded; the Hub finds
# (adopts) them again when it comes back.
c.JupyterHub.cleanup_servers = False

# A login to try the deployment: any user name with one shared password (at
# least 8 characters). Replace it with a real authenticator (oauthenticator,
# ldapauthenticator, nativeauthenticator...) before users arrive.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["SHARED_PASSWORD"]
c.Authenticator.allow_all = True

# -- the servers --------------------------------------------------------------
c.JupyterHub.spawner_class = "aiodocker"
c.DockerSpawner.image = os.environ["SINGLEUSER_IMAGE"]
# The network the Hub is on. On a user-defined network the Hub connects to
# each server's own IP (use_internal_ip defaults to True there): no ports
# are published for the servers.
c.DockerSpawner.network_name = os.environ["DOCKER_NETWORK_NAME"]
# Pinned, so that the Hub recognises its containers whatever happens to its
# database path; unique per Hub on this Docker daemon.
c.DockerSpawner.hub_id = os.environ["HUB_ID"]
c.DockerSpawner.prefix = os.environ["SPAWNER_PREFIX"]
# One named volume per user, kept when the container is removed.
c.DockerSpawner.volumes = {"{prefix}-{username}-work": "/home/jovyan/work"}
c.DockerSpawner.remove = True
