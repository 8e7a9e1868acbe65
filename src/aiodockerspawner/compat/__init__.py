"""dockerspawner compatibility: its object API, deprecated names and docker-py calls."""
