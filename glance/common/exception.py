"""One error tree, shared by the server and the client.

Each class carries what it stands for in HTTP: ``code``, ``title`` and ``headers()``; the API
answers with those (``glance.api.errors``), and the client raises, for an error status, the
class declared ``canonical`` for it (``from_status``). Nothing else keeps a status table.
"""

from __future__ import annotations

from typing import Any, ClassVar

_CANONICAL: dict[int, type[GlanceException]] = {}


class GlanceException(Exception):
    """Base of every glance error. ``code`` is the HTTP status it stands for."""

    code: int = 500
    title: ClassVar[str] = "Internal Server Error"
    default_message: ClassVar[str] = "An unknown exception occurred"

    def __init_subclass__(cls, canonical: bool = False, **kwargs: Any) -> None:
        """``canonical=True``: the class the client raises for an answer with its ``code``."""
        super().__init_subclass__(**kwargs)
        if canonical:
            _CANONICAL[cls.code] = cls

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def headers(self) -> dict[str, str]:
        """Extra response headers this error carries (a challenge, Retry-After …)."""
        return {}


class BadRequest(GlanceException, canonical=True):
    """The request is malformed or carries an invalid value (400)."""

    code = 400
    title = "Bad Request"
    default_message = "Bad request"


Invalid = BadRequest
BadInputError = BadRequest


class NotAuthenticated(GlanceException, canonical=True):
    """No valid credentials were supplied (401)."""

    code = 401
    title = "Unauthorized"
    default_message = "Authentication required"

    def __init__(self, message: str | None = None, challenge: str | None = None) -> None:
        super().__init__(message)
        self.challenge = challenge  # the WWW-Authenticate value of the server's auth mode

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge} if self.challenge else {}


class Forbidden(GlanceException, canonical=True):
    """The caller may not do this (403)."""

    code = 403
    title = "Forbidden"
    default_message = "You are not authorized to complete this action"


NotAuthorized = Forbidden


class NotFound(GlanceException, canonical=True):
    """The resource does not exist or is not visible to the caller (404)."""

    code = 404
    title = "Not Found"
    default_message = "An object with the specified identifier was not found"


class MethodNotAllowed(GlanceException, canonical=True):
    """The route exists but not for this method (405)."""

    code = 405
    title = "Method Not Allowed"
    default_message = "Method not allowed"

    def __init__(self, message: str | None = None, allow: str | None = None) -> None:
        super().__init__(message)
        self.allow = allow  # the methods the route serves

    def headers(self) -> dict[str, str]:
        return {"Allow": self.allow} if self.allow else {}


class Conflict(GlanceException):
    """The request conflicts with the resource's current state (409)."""

    code = 409
    title = "Conflict"
    default_message = "The request conflicts with the current state of the resource"


class Duplicate(Conflict, canonical=True):
    """An object with this identifier already exists (409)."""

    default_message = "An object with the same identifier already exists"


class RequestTimeout(GlanceException, canonical=True):
    """The client stopped sending the request body (408); nothing of it was kept."""

    code = 408
    title = "Request Timeout"
    default_message = "The client sent no data for too long"


class Gone(GlanceException, canonical=True):
    """The image was deleted while its data was being uploaded (410); nothing was kept."""

    code = 410
    title = "Gone"
    default_message = "The image was deleted during the upload"


class LimitExceeded(GlanceException, canonical=True):
    """A size, quota or count limit was exceeded (413)."""

    code = 413
    title = "Request Entity Too Large"
    default_message = "The request exceeds a limit"

    def __init__(self, message: str | None = None, retry: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


class UnsupportedMediaType(GlanceException, canonical=True):
    """The request body's Content-Type is not one this route accepts (415)."""

    code = 415
    title = "Unsupported Media Type"
    default_message = "Unsupported media type"

    def __init__(self, message: str | None = None, accept_patch: str | None = None) -> None:
        super().__init__(message)
        self.accept_patch = accept_patch

    def headers(self) -> dict[str, str]:
        return {"Accept-Patch": self.accept_patch} if self.accept_patch else {}


class InvalidDiskImage(UnsupportedMediaType):
    """Uploaded data is not the declared disk_format, or is an unsafe disk (415)."""

    default_message = "The image data is not a valid disk of the declared disk_format"


class RangeNotSatisfiable(GlanceException, canonical=True):
    """The requested byte range lies outside the image (416)."""

    code = 416
    title = "Requested Range Not Satisfiable"
    default_message = "Requested range not satisfiable"


class HeadersTooLarge(BadRequest, canonical=True):
    """Request headers exceed the server's budget (431)."""

    code = 431
    title = "Request Header Fields Too Large"
    default_message = "Request headers are too large"


class ServerError(GlanceException, canonical=True):
    """The server failed (5xx)."""

    code = 500


class ServiceUnavailable(ServerError, canonical=True):
    """The server or one of its stores is unavailable (503)."""

    code = 503
    title = "Service Unavailable"
    default_message = "The service is unavailable"


class MultipleChoices(GlanceException, canonical=True):
    """The server answered with its versions document (300)."""

    code = 300
    title = "Multiple Choices"
    default_message = "The requested API version is not available"


class UnexpectedStatus(GlanceException):
    """The server answered with a status the client does not know."""

    def __init__(self, status: int, message: str | None = None) -> None:
        self.code = status
        super().__init__(message or f"Unexpected status {status}")


class ClientConnectionError(GlanceException):
    """The client could not reach the server or lost the connection."""

    default_message = "Could not connect to the server"


class StoreError(GlanceException):
    """A store failed to move bytes (raised inside the service, never by a handler)."""

    code = 503
    title = "Service Unavailable"
    default_message = "The store failed"


class ConfigError(GlanceException):
    """A setting is missing or wrong: the server (or a command) cannot start. Only the
    command-line entry points turn it into an exit."""

    default_message = "Bad configuration"


def from_status(status: int, message: str | None = None) -> GlanceException:
    """Build the exception a client raises for an HTTP error ``status``."""
    cls = _CANONICAL.get(status)
    if cls is not None:
        return cls(message)
    if 400 <= status < 500:
        exc: GlanceException = BadRequest(message)
        exc.code = status
        return exc
    if status >= 500:
        exc = ServerError(message)
        exc.code = status
        return exc
    return UnexpectedStatus(status, message)
