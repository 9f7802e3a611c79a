"""Sync protocol, the clinic's outbox pump and the township server."""
