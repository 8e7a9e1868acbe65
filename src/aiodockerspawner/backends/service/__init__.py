"""Swarm services: the service create body, tasks, and the backend."""
