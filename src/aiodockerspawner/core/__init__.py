"""The neutral core's pure policy: names, user options, drift, lifetime, networking.

Nothing here knows Engine JSON or talks to Docker.
"""
