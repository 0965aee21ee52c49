"""The runtime's exceptions, in one place.

- `ConfigurationError`: settings or files are wrong; the service refuses to start.
- `DeadLetterRateExceeded`: too many invalid records in a row of traffic; the consumer stops
  loudly rather than drain a topic into its dead-letter twin (a bad deploy, not bad data).
- `Stopped`: a stop was asked while waiting for the broker or the database; not a failure.
- `EmbeddedError` (in `embedded`): an embedded server could not start.
"""


class RuntimeFailure(Exception):
    """Base of the runtime's own errors."""


class ConfigurationError(RuntimeFailure):
    """A setting or file is invalid; the message names the value and what was expected."""


class DeadLetterRateExceeded(RuntimeFailure):
    """The share of dead-lettered records passed the configured cap."""


class Stopped(RuntimeFailure):
    """A stop (SIGTERM) came while `retry.until_done` was still waiting."""
