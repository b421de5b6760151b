"""The runtime every service runs on: settings, its store and unit of work, the
consumer's positions, the outbox relay, the tracked consumer, the workers that run
them beside the HTTP API, and the Kafka connection they share.

Nothing here knows a service: the services build on it (``services/registry.py``
names them), and the operator tools and the demo sit above both.
"""
