"""``glance.client.Client``: the Images API v1 client of the 2011 client guide, over httpx.

Bodies stream both ways in 1 MiB chunks: an upload reads its file or iterator as it is sent,
and ``get_image`` returns an iterator over the response. Nothing reads a whole image into
memory. Errors come from ``glance.common.exception``: an HTTP error status becomes the
matching exception carrying the server's message, and a network failure becomes
``ClientConnectionError``.
"""

from glance.client.api import DEFAULT_DOC_ROOT, DEFAULT_PORT, Client, ImageBodyIterator
from glance.client.wire import headers_to_meta, image_id_from, meta_to_headers

__all__ = ["DEFAULT_DOC_ROOT", "DEFAULT_PORT", "Client", "ImageBodyIterator", "headers_to_meta",
           "image_id_from", "meta_to_headers"]
