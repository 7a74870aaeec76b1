"""Errors the core raises; each message says what is wrong and how to fix it."""


class SocDefendersError(Exception):
    """Base class of every error raised by the ``socdefenders`` package."""


class ConfigurationError(SocDefendersError, ValueError):
    """An account setting is missing or invalid; ``field`` names the setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
