"""Streaming bodies both ways: request bodies as large chunks, image bytes out (zero-copy)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from typing import AsyncIterator, BinaryIO

import aiohttp
from aiohttp import web

from glance.api.util import service, settings
from glance.common import exception
from glance.domain import is_storable
from glance.service import Download

LOG = logging.getLogger(__name__)
_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_LARGEST_OFFSET = 2**63  # beyond any image


def _offset(digits: str) -> int:
    """A Range offset; numbers of more than 19 digits (beyond any image, and up to
    thousands of digits, which ``int`` refuses) count as _LARGEST_OFFSET."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 19 else _LARGEST_OFFSET


async def body_chunks(request: web.Request, chunk_size: int) -> AsyncIterator[bytes]:
    """The request body as chunks (``read_body``), counted as an upload in the metrics."""
    metrics = service(request).metrics
    in_flight = metrics.transfers.labels("upload")
    in_flight.inc()
    try:
        async for chunk in read_body(request, chunk_size):
            metrics.bytes_uploaded.inc(len(chunk))
            yield chunk
    finally:
        in_flight.dec()


async def read_body(request: web.Request, chunk_size: int) -> AsyncIterator[bytes]:
    """The request body as chunks of about ``chunk_size`` bytes, never the whole body.

    The pieces the transport delivers (often 64–256 KiB) are collected in a list and joined
    once per chunk: one copy per byte, and none at all when a piece is already big enough.
    """
    pieces: list[bytes] = []
    buffered = 0
    content = request.content
    while True:
        try:
            data = await read_some(request)
        except aiohttp.ClientPayloadError as exc:  # the body was cut short
            raise ConnectionResetError(str(exc)) from exc
        if not data:
            break
        pieces.append(data)
        buffered += len(data)
        if buffered >= chunk_size:
            yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            pieces = []
            buffered = 0
    if pieces:
        yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
    if request.content_length is not None and not content.is_eof():
        raise ConnectionResetError("request body ended early")


async def read_some(request: web.Request) -> bytes:
    """The next piece of the request body (b"" at its end); RequestTimeout when the client
    sends nothing for ``client_body_timeout`` seconds."""
    limit = settings(request).client_body_timeout
    try:
        async with asyncio.timeout(limit):
            return await request.content.readany()
    except TimeoutError:
        raise exception.RequestTimeout(
            f"No request data received for {limit:g}s (client_body_timeout)") from None


def has_body(request: web.Request) -> bool:
    """A body counts as present if Content-Length > 0 or Transfer-Encoding is set."""
    return bool(request.content_length) or "Transfer-Encoding" in request.headers


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(offset, length)`` for a single-range ``Range`` header, None to send everything.

    Raises RangeNotSatisfiable when the range lies outside ``size`` bytes.
    """
    if not header:
        return None
    match = _RANGE_RE.match(header.strip().replace(" ", ""))
    if not match or (not match.group(1) and not match.group(2)):
        return None  # unparsable or multi-range: ignored, as RFC 9110 allows
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        length = min(_offset(last), size)
        if length == 0:
            raise exception.RangeNotSatisfiable(f"Range {header} is not satisfiable")
        return size - length, length
    start = _offset(first)
    end = min(_offset(last), size - 1) if last else size - 1
    if start >= size or (last and _offset(last) < start):
        raise exception.RangeNotSatisfiable(
            f"Range {header} is not satisfiable for an image of {size} bytes")
    return start, end - start + 1


async def send_download(request: web.Request, response: web.StreamResponse,
                        download: Download) -> web.StreamResponse:
    """Send ``download`` (``send_bytes``), counted as a download in the metrics."""
    metrics = service(request).metrics
    in_flight = metrics.transfers.labels("download")
    in_flight.inc()
    try:
        await send_bytes(request, response, download)
    finally:
        in_flight.dec()
    sent = response.content_length or 0 if request.method != "HEAD" else 0
    request["bytes_sent"] = sent
    metrics.bytes_downloaded.inc(sent)
    return response


async def send_bytes(request: web.Request, response: web.StreamResponse,
                     download: Download) -> web.StreamResponse:
    """Send ``download`` (whole, or the request's single Range) on ``response``.

    The caller has set the other headers. Local files go out with zero-copy sendfile; the
    file is opened before the answer starts, so that an image deleted meanwhile is a clean
    404 and one deleted later still downloads whole. A client that goes away mid-download
    is one INFO line; the connection is closed so that no client takes a short body for a
    whole one.
    """
    total = download.size
    requested = parse_range(request.headers.get("Range"), total) if total else None
    offset, length = requested if requested is not None else (0, total)
    sending = request.method != "HEAD" and length > 0
    path = download.local_path if sending else None
    fobj = await _open_image_file(download, path) if path is not None else None
    try:
        response.content_length = length
        response.headers["Accept-Ranges"] = "bytes"
        if requested is not None:
            response.set_status(206)
            response.headers["Content-Range"] = f"bytes {offset}-{offset + length - 1}/{total}"
        chunks = download.read(offset, length) if sending and fobj is None else None
        # a store that fails before the first byte still gets an answer (503 …)
        first = await anext(chunks, b"") if chunks is not None else b""
        await response.prepare(request)
        try:
            if fobj is not None:
                await _sendfile(request, response, fobj, offset, length)
            elif chunks is not None:
                await response.write(first)
                async for chunk in chunks:
                    await response.write(chunk)
            await response.write_eof()
        except ConnectionError as exc:
            LOG.info("%s %s: the client went away during the download (%s)", request.method,
                     request.path, type(exc).__name__)
            _abort(request)
        except exception.GlanceException as exc:
            # the status is sent: cut the connection, so that the client sees a body shorter
            # than its Content-Length, never a complete-looking one (or an error inside it)
            LOG.error("%s %s: the store failed after the headers were sent (%s): connection "
                      "closed", request.method, request.path, exc)
            _abort(request)
    finally:
        if fobj is not None:
            fobj.close()
    return response


async def _open_image_file(download: Download, path: str) -> BinaryIO:
    try:
        return await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:
        raise exception.NotFound(
            f"The data of image {download.image.id} is gone (deleted meanwhile)") from None


def _abort(request: web.Request) -> None:
    """Close the connection of an answer that cannot be completed."""
    if request.transport is not None:
        request.transport.close()


async def _sendfile(request: web.Request, response: web.StreamResponse, fobj: BinaryIO,
                    offset: int, length: int) -> None:
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("Connection lost")
    try:
        await asyncio.get_running_loop().sendfile(transport, fobj, offset, length)
    except NotImplementedError:  # e.g. TLS transports: plain reads instead
        while length > 0:
            data = await asyncio.to_thread(os.pread, fobj.fileno(), min(length, 1 << 20),
                                           offset)
            if not data:
                break
            await response.write(data)
            offset += len(data)
            length -= len(data)


# How deeply JSON bodies may nest: the deepest the API reads is 3 (a patch's list of tags);
# deeper bodies are refused before parsing, which would otherwise recurse once per level.
MAX_JSON_DEPTH = 32
_JSON_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


async def read_json(request: web.Request, limit: int) -> object:
    """The request's JSON body (None when empty), read in bounded chunks: 413 beyond
    ``limit`` bytes; 400 when it is not UTF-8 JSON, nests deeper than MAX_JSON_DEPTH, uses
    NaN or Infinity, or holds a string with a NUL or a lone surrogate (``"\\ud800"``).
    Every API reads its JSON bodies here."""
    if request.content_length is not None and request.content_length > limit:
        raise exception.LimitExceeded(f"JSON body larger than {limit} bytes")
    buffer = bytearray()
    while True:
        data = await read_some(request)
        if not data:
            break
        buffer += data
        if len(buffer) > limit:
            raise exception.LimitExceeded(f"JSON body larger than {limit} bytes")
    if not buffer.strip():
        return None
    return parse_json(bytes(buffer))


def parse_json(raw: bytes) -> object:
    """``raw`` parsed as JSON text under the rules of ``read_json``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise exception.BadRequest(f"Malformed JSON in request body: not UTF-8 ({exc})") \
            from None
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        _check_depth(raw)
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise exception.BadRequest(f"Malformed JSON in request body: {exc}") from None
    if "\\u" in text:  # the only way a NUL or a lone surrogate gets into valid UTF-8 JSON
        _check_strings(body)
    return body


def _check_depth(raw: bytes) -> None:
    depth = 0
    for match in _JSON_NESTING.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise exception.BadRequest(
                    f"Malformed JSON in request body: nested deeper than {MAX_JSON_DEPTH} "
                    f"levels")
        elif token in (b"]", b"}"):
            depth -= 1


def _no_constant(name: str) -> object:
    raise exception.BadRequest(f"Malformed JSON in request body: {name} is not JSON")


def _check_strings(body: object) -> None:
    """400 for a NUL or lone surrogate in any string or key of ``body`` (depth is bounded)."""
    pending = [body]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_storable(item):
                raise exception.BadRequest(
                    "Malformed JSON in request body: strings must be UTF-8 text without NUL "
                    "characters (no lone surrogates such as \\ud800)")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
