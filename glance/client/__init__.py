"""The clients of a glance server: ``Client`` (Images API v1, the 2011 client guide's) and
``V2Client`` (Images API v2, what the ``glance`` command's v2 verbs use), over httpx.

Bodies stream both ways in 1 MiB chunks: an upload reads its file or iterator as it is sent,
and a download is an iterator over the response. Nothing reads a whole image into memory.
Errors come from ``glance.common.exception``: an HTTP error status becomes the matching
exception carrying the server's message, and a network failure ``ClientConnectionError``.

Modules: ``v1`` and ``v2`` (the clients), ``base`` (what they share: the connection pool,
the token, sending and error answers), ``download`` (downloaded bytes, v2's checked when
they end), ``wire`` (URLs, v1's headers, query values, error answers, request bodies).
"""

from glance.client.download import CorruptDownload, ImageBodyIterator, ImageDownload
from glance.client.v1 import DEFAULT_DOC_ROOT, DEFAULT_PORT, Client
from glance.client.v2 import V2Client
from glance.client.wire import headers_to_meta, image_id_from, meta_to_headers

__all__ = ["DEFAULT_DOC_ROOT", "DEFAULT_PORT", "Client", "CorruptDownload", "ImageBodyIterator",
           "ImageDownload", "V2Client", "headers_to_meta", "image_id_from", "meta_to_headers"]
