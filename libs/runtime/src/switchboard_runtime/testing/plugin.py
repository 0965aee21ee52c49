"""pytest plugin: starts the embedded broker and database once per session."""
