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


class Unauthorized(AssistantError):
    """No API key, or one that is unknown or revoked."""


class RateLimited(AssistantError):
    """The key sent more requests than its limit; `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
