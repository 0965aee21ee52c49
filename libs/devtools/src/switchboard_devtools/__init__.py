"""Developer commands: `python -m switchboard_devtools {run,tail,publish}`."""
