"""Switchboard demo: a deterministic customer set and contact traffic for `make run`."""
