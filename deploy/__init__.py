"""Deployment tooling: the local stack, the seed registry, the demo scenario."""
