"""The DockerSpawner configuration surface: trait declarations grouped by subject."""
