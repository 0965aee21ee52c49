"""Test support: the pytest plugin that starts the real broker and database."""
