"""Who is calling: built once per request by the API's auth layer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    """The caller of one request."""

    project_id: str | None = None
    user_id: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    is_admin: bool = False
    auth_token: str | None = None
    request_id: str | None = None  # the x-openstack-request-id the response carries

    @property
    def owner(self) -> str | None:
        """The owner recorded on images this caller creates."""
        return self.project_id or self.user_id
