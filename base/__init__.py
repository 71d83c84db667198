"""The base layer: settings, the one connection factory, key registries, the queue list. Imports nothing of ours."""
