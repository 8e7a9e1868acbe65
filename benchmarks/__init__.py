"""Benchmarks of aiodockerspawner against dockerspawner and raw Docker (``nox -s bench``)."""
