"""``BaseClient``: what the v1 and v2 clients share — one httpx connection pool, the token
sent with every request, and requests whose failures become glance exceptions."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Self

import httpx

from glance import __version__
from glance.client.wire import error_of
from glance.common import exception

USER_AGENT = f"glance-client/{__version__}"


class BaseClient:
    """A connection pool to ``base_url`` whose requests carry ``token`` as X-Auth-Token.

    ``timeout`` (seconds) bounds each network operation (None: wait); ``verify`` and
    ``cert`` are httpx's TLS settings; ``headers`` go with every request. Error answers
    raise the glance exception of their status (with ``status_in_errors``, the message
    ends in ``(HTTP 404 Not Found)``), network failures ``ClientConnectionError``.
    """

    def __init__(self, base_url: str, token: str | None, *, timeout: float | None,
                 verify: bool | str = True, cert: Any = None,
                 headers: Mapping[str, str] | None = None,
                 status_in_errors: bool = False) -> None:
        self.base_url = base_url
        self.token = token
        self._status_in_errors = status_in_errors
        self._http = httpx.Client(base_url=base_url,
                                  headers={"User-Agent": USER_AGENT, **(headers or {})},
                                  timeout=httpx.Timeout(timeout), verify=verify, cert=cert,
                                  follow_redirects=False)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
              headers: Mapping[str, str | bytes] | None = None,
              content: bytes | Iterable[bytes] | None = None, json_body: Any = None,
              stream: bool = False) -> httpx.Response:
        """Send one request; raise the glance exception for an error status."""
        all_headers: dict[str, Any] = dict(headers or {})  # httpx takes str and bytes values
        if self.token:
            all_headers["x-auth-token"] = self.token
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers["content-type"] = "application/json"
        request = self._http.build_request(method, url, params=params, headers=all_headers,
                                           content=content)
        try:
            response = self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise exception.ClientConnectionError(
                f"Error talking to {self.base_url}: {exc or type(exc).__name__}") from exc
        if response.is_success:
            return response
        try:
            if stream:
                response.read()
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        raise error_of(response, with_status=self._status_in_errors)

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object a request answers (ServerError for anything else)."""
        response = self._send(method, url, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise exception.ServerError(
                f"{method} {url} answered {response.status_code} with a body that is not "
                f"a JSON object: {response.text[:200]!r}")
        return body
