"""One error tree, shared by the server and the client.

The server raises these; one table in ``glance.api.errors`` maps them to HTTP statuses, and
the client maps statuses back to the same classes (``from_status``).
"""

from __future__ import annotations


class GlanceException(Exception):
    """Base of every glance error. ``code`` is the HTTP status it stands for."""

    code: int = 500
    title: str = "Internal Server Error"
    default_message: str = "An unknown exception occurred"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class BadRequest(GlanceException):
    """The request is malformed or carries an invalid value (400)."""

    code = 400
    title = "Bad Request"
    default_message = "Bad request"


Invalid = BadRequest
BadInputError = BadRequest


class NotAuthenticated(GlanceException):
    """No valid credentials were supplied (401)."""

    code = 401
    title = "Unauthorized"
    default_message = "Authentication required"


class Forbidden(GlanceException):
    """The caller may not do this (403)."""

    code = 403
    title = "Forbidden"
    default_message = "You are not authorized to complete this action"


NotAuthorized = Forbidden


class NotFound(GlanceException):
    """The resource does not exist or is not visible to the caller (404)."""

    code = 404
    title = "Not Found"
    default_message = "An object with the specified identifier was not found"


class MethodNotAllowed(GlanceException):
    """The route exists but not for this method (405)."""

    code = 405
    title = "Method Not Allowed"
    default_message = "Method not allowed"


class Conflict(GlanceException):
    """The request conflicts with the resource's current state (409)."""

    code = 409
    title = "Conflict"
    default_message = "The request conflicts with the current state of the resource"


class Duplicate(Conflict):
    """An object with this identifier already exists (409)."""

    default_message = "An object with the same identifier already exists"


class Gone(GlanceException):
    """The image was deleted while its data was being uploaded (410); nothing was kept."""

    code = 410
    title = "Gone"
    default_message = "The image was deleted during the upload"


class LimitExceeded(GlanceException):
    """A size, quota or count limit was exceeded (413)."""

    code = 413
    title = "Request Entity Too Large"
    default_message = "The request exceeds a limit"

    def __init__(self, message: str | None = None, retry: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry


class UnsupportedMediaType(GlanceException):
    """The request body's Content-Type is not one this route accepts (415)."""

    code = 415
    title = "Unsupported Media Type"
    default_message = "Unsupported media type"

    def __init__(self, message: str | None = None, accept_patch: str | None = None) -> None:
        super().__init__(message)
        self.accept_patch = accept_patch


class InvalidDiskImage(UnsupportedMediaType):
    """Uploaded data is not the declared disk_format, or is an unsafe disk (415)."""

    default_message = "The image data is not a valid disk of the declared disk_format"


class RangeNotSatisfiable(GlanceException):
    """The requested byte range lies outside the image (416)."""

    code = 416
    title = "Requested Range Not Satisfiable"
    default_message = "Requested range not satisfiable"


class HeadersTooLarge(BadRequest):
    """Request headers exceed the server's budget (431)."""

    code = 431
    title = "Request Header Fields Too Large"
    default_message = "Request headers are too large"


class ServerError(GlanceException):
    """The server failed (5xx)."""

    code = 500


class ServiceUnavailable(ServerError):
    """The server or one of its stores is unavailable (503)."""

    code = 503
    title = "Service Unavailable"
    default_message = "The service is unavailable"


class MultipleChoices(GlanceException):
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


_BY_STATUS: dict[int, type[GlanceException]] = {
    300: MultipleChoices,
    400: BadRequest,
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Duplicate,
    410: Gone,
    413: LimitExceeded,
    415: UnsupportedMediaType,
    416: RangeNotSatisfiable,
    431: HeadersTooLarge,
    500: ServerError,
    503: ServiceUnavailable,
}


def from_status(status: int, message: str | None = None) -> GlanceException:
    """Build the exception a client raises for an HTTP error ``status``."""
    cls = _BY_STATUS.get(status)
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
