"""A small error hierarchy; the API maps each class to one status code in one place."""


class AssistantError(Exception):
    """Base for every error the library raises on purpose."""


class InvalidInput(AssistantError):
    """The caller sent something we cannot use; the message says what to fix."""


class TooLarge(InvalidInput):
    """The request body is larger than the configured limit."""


class NotFound(AssistantError):
    """The thing asked for does not exist."""


class Conflict(AssistantError):
    """The request does not fit the current state (a draft already reviewed)."""


class Unavailable(AssistantError):
    """A store or an outside service did not answer in time."""
