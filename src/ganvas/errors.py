"""User-facing errors.

Anything a user can cause (a wrong path, a bad flag, a corrupt file, a config that does not fit) raises
`GanvasError` with a message that names the thing and the fix. The CLI prints the message without a
traceback and exits with status 2. Bugs stay ordinary exceptions.
"""


def first_sentence(e: BaseException, limit: int = 200) -> str:
    """The first sentence of an exception's first line (its type name when it has no text), for a one-line
    message that quotes a library's error without its traceback or its advice paragraphs."""
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return line.split(". ", 1)[0][:limit]


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
