"""Keyed in-memory stores of domain snapshots, each announcing its changes with events."""
