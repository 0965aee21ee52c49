"""Planning maths shared by the services and the planning command: queueing models
(`erlang`), agents needed per interval (`staffing`) and sizing a new team (`sizing`)."""
