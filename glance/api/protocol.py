"""The connection level: requests that fail before any handler runs (bad HTTP syntax, a
handler that escaped the error middleware) are answered in the JSON error envelope too, and
logged as one line (a traceback only for server errors, which are bugs)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from glance.api.errors import error_response
from glance.common import exception

LOG = logging.getLogger(__name__)


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(word for word in text.split() if word.strip("^~"))  # no parser pointer
    return line if len(line) <= limit else line[:limit] + "…"


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's connection handler, with its error answer in our envelope."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, ConnectionError):  # the client went away: nobody to answer
            LOG.info("%s %s: the client went away (%s)", request.method, request.path,
                     _one_line(str(exc) or type(exc).__name__))
            error: exception.GlanceException = exception.ServerError("connection lost")
        elif status >= 500:
            LOG.error("%s %s failed outside the error middleware", request.method, request.path,
                      exc_info=exc)
            error = exception.from_status(
                status, "The server failed to complete the request; see its log")
        else:
            reason = _one_line(message or str(exc or "bad request"))
            LOG.info("bad HTTP request from %s: %s", request.remote, reason)
            error = exception.from_status(status, f"Bad HTTP request: {reason}")
        if request.writer.output_size > 0:  # the answer has begun: only closing is left
            raise ConnectionError("the response has begun; closing the connection")
        response = error_response(error)
        response.force_close()
        return response


class EnvelopeServer(web.Server):
    """A low-level server whose connections use EnvelopeRequestHandler."""

    def __call__(self) -> RequestHandler:
        return EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)


class EnvelopeRunner(web.AppRunner):
    """``web.AppRunner`` serving the application through EnvelopeServer."""

    async def _make_server(self) -> web.Server:
        built = await super()._make_server()  # starts the app up
        return EnvelopeServer(built.request_handler, request_factory=built.request_factory,
                              **self._kwargs)
