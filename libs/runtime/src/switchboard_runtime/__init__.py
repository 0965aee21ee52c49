"""Shared plumbing of the Switchboard services."""
