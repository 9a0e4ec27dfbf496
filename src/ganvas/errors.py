"""User-facing errors.

Anything a user can cause (a wrong path, a bad flag, a corrupt file, a config that does not fit) raises
`GanvasError` with a message that names the thing and the fix. The CLI prints the message without a
traceback and exits with status 2. Bugs stay ordinary exceptions.
"""


class GanvasError(Exception):
    """An error the user can fix; its message says how."""


class ConfigError(GanvasError):
    """A config value, override or preset that cannot be used."""


class DataError(GanvasError):
    """A dataset that cannot be read or holds no usable image."""


class TrainingDiverged(GanvasError):
    """Training produced non-finite values repeatedly and was stopped before writing them."""


class PeerLost(GanvasError):
    """Another process of a multi-process (torchrun) run stopped or could not be reached."""
