"""Exceptions the data layer raises. Callers turn these into clear spoken messages."""


class DatabaseError(Exception):
    """Base class for data-layer failures."""


class DatabaseUnavailable(DatabaseError):
    """The database could not be reached (or timed out) after bounded retries."""


class NotFound(DatabaseError):
    """The requested row does not exist *for this customer*."""


class InvalidArgument(DatabaseError, ValueError):
    """A query argument the database cannot take (e.g. a number past bigint): a caller bug
    or a forged value, never worth retrying."""
