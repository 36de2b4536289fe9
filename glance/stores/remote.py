"""Another region's image service, read through its v2 API with the caller's token (the
glance-download import): its endpoint from the Keystone catalogue, an image's record, and
the image's data. httpx errors become glance errors here."""

from __future__ import annotations

from typing import Any, AsyncIterator

import httpx

from glance.common import exception


class RemoteImages:
    """One caller's view of the image services in the Keystone catalogue."""

    def __init__(self, keystone_url: str, token: str, *, timeout: float = 60.0,
                 chunk_size: int = 1 << 20) -> None:
        self.keystone_url = keystone_url.rstrip("/")
        self.chunk_size = chunk_size
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=True,
                                         headers={"X-Auth-Token": token})

    async def close(self) -> None:
        await self._client.aclose()

    async def _json(self, url: str, what: str) -> Any:
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise exception.ServiceUnavailable(f"Cannot reach {what} at {url}: {exc}") from None
        if response.status_code == 404:
            raise exception.NotFound(f"{what} not found at {url}")
        if response.status_code >= 400:
            raise exception.BadRequest(f"{what} at {url} answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise exception.BadRequest(f"{what} at {url} did not answer JSON") from None

    async def endpoint(self, region: str, interface: str) -> str:
        """The base URL of the ``image`` service in ``region`` for ``interface``."""
        body = await self._json(self.keystone_url + "/auth/catalog", "The Keystone catalogue")
        for service in body.get("catalog", []) if isinstance(body, dict) else []:
            if service.get("type") != "image":
                continue
            for ep in service.get("endpoints", []):
                if interface == ep.get("interface") and region in (ep.get("region_id"),
                                                                   ep.get("region")):
                    url = str(ep.get("url", "")).rstrip("/")
                    return url[:-3] if url.endswith("/v2") else url
        raise exception.NotFound(f"No image service in region {region!r} with interface "
                                 f"{interface!r} in the catalogue")

    async def image(self, endpoint: str, image_id: str) -> dict[str, Any]:
        """The remote image's v2 record."""
        record = await self._json(f"{endpoint}/v2/images/{image_id}",
                                  f"Image {image_id} of the remote image service")
        if not isinstance(record, dict):
            raise exception.BadRequest(f"The remote image service sent no record for image "
                                       f"{image_id}")
        return record

    async def data(self, endpoint: str, image_id: str) -> AsyncIterator[bytes]:
        """The remote image's bytes, streamed."""
        url = f"{endpoint}/v2/images/{image_id}/file"
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise exception.BadRequest(f"{url} answered {response.status_code}")
                async for chunk in response.aiter_bytes(self.chunk_size):
                    yield chunk
        except httpx.HTTPError as exc:
            raise exception.ServiceUnavailable(f"Cannot read {url}: {exc}") from None
