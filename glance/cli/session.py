"""Where the server is and which token to send: given directly, or from Keystone.

- ``--os-image-url`` / ``--url`` (``OS_IMAGE_URL``, ``GLANCE_URL``) or ``--host``/``--port``
  name the server, ``--os-auth-token`` (``OS_AUTH_TOKEN``) the token; with both (or with no
  Keystone URL) no identity service is asked.
- Otherwise, with ``--os-auth-url`` (``OS_AUTH_URL``), keystoneauth1 authenticates with the
  password (or the token) and, unless the server was named, finds the ``image`` endpoint of
  the catalogue for ``--os-interface`` and ``--os-region-name``.
- With neither, the server is ``http://127.0.0.1:9292``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass
from typing import Any

from glance.cli.errors import UsageError
from glance.client import Client, V2Client
from glance.client.wire import strip_version
from glance.common import exception

DEFAULT_URL = "http://127.0.0.1:9292"

#: ``args`` attribute → environment variables that supply it (first set wins).
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "os_image_url": ("OS_IMAGE_URL",),
    "os_auth_token": ("OS_AUTH_TOKEN",),
    "os_auth_url": ("OS_AUTH_URL",),
    "os_username": ("OS_USERNAME",),
    "os_user_id": ("OS_USER_ID",),
    "os_password": ("OS_PASSWORD",),
    "os_project_name": ("OS_PROJECT_NAME", "OS_TENANT_NAME"),
    "os_project_id": ("OS_PROJECT_ID", "OS_TENANT_ID"),
    "os_user_domain_name": ("OS_USER_DOMAIN_NAME",),
    "os_user_domain_id": ("OS_USER_DOMAIN_ID",),
    "os_project_domain_name": ("OS_PROJECT_DOMAIN_NAME",),
    "os_project_domain_id": ("OS_PROJECT_DOMAIN_ID",),
    "os_region_name": ("OS_REGION_NAME",),
    "os_interface": ("OS_INTERFACE", "OS_ENDPOINT_TYPE"),
    "os_service_type": ("OS_SERVICE_TYPE",),
    "os_cacert": ("OS_CACERT",),
}


@dataclass(frozen=True)
class Connection:
    """How to reach the image service: its root URL, the token, TLS and timeout."""

    endpoint: str
    token: str | None
    verify: bool | str = True
    timeout: float | None = None

    def v1_client(self, headers: dict[str, str] | None = None) -> Client:
        """A v1 client of this service (sending ``headers`` with every request)."""
        kwargs: dict[str, Any] = {"auth_tok": self.token, "timeout": self.timeout}
        if self.verify is False:
            kwargs["insecure"] = True
        elif isinstance(self.verify, str):
            kwargs["ca_file"] = self.verify
        if headers:
            kwargs["headers"] = headers
        return Client(self.endpoint, **kwargs)

    def v2_client(self) -> V2Client:
        """A v2 client of this service."""
        return V2Client(self.endpoint, self.token, timeout=self.timeout, verify=self.verify)


def setting(args: argparse.Namespace, name: str) -> Any:
    """An option's value: the flag if given, else its environment variables."""
    value = getattr(args, name, None)
    if value not in (None, ""):
        return value
    for variable in ENVIRONMENT.get(name, ()):
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def _host_url(host: str | None, port: int | None) -> str:
    host = host or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port or 9292}"


def connect(args: argparse.Namespace) -> Connection:
    """The connection the command line and the environment describe.

    Raises UsageError for contradictory options and a GlanceException when Keystone
    refuses or cannot be reached.
    """
    url = getattr(args, "os_image_url", None) or getattr(args, "url", None)
    if url and (args.host or args.port):
        raise UsageError("give either --url/--os-image-url or --host/--port, not both")
    if args.host or args.port:
        url = _host_url(args.host, args.port)
    url = url or setting(args, "os_image_url") or os.environ.get("GLANCE_URL") or None
    token = setting(args, "os_auth_token")
    verify: bool | str = False if args.insecure else (setting(args, "os_cacert") or True)
    auth_url = setting(args, "os_auth_url")
    if auth_url and not (url and token):
        token, catalogue_url = _keystone(args, auth_url, token, verify, need_url=not url)
        url = url or catalogue_url
    try:
        endpoint = strip_version(url or DEFAULT_URL)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Connection(endpoint, token, verify, args.timeout)


def _keystone(args: argparse.Namespace, auth_url: str, token: str | None,
              verify: bool | str, need_url: bool) -> tuple[str, str | None]:
    """``(token, image endpoint or None)`` from Keystone, through keystoneauth1."""
    import requests
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import generic

    try:
        strip_version(auth_url)
    except ValueError as exc:
        raise UsageError(f"--os-auth-url: {exc}") from None
    project = {"project_name": setting(args, "os_project_name"),
               "project_id": setting(args, "os_project_id"),
               "project_domain_name": setting(args, "os_project_domain_name"),
               "project_domain_id": setting(args, "os_project_domain_id")}
    if token:
        plugin: Any = generic.Token(auth_url, token=token, **project)
    else:
        user = _user(args)
        password = _password(args)
        if not (project["project_name"] or project["project_id"]):
            raise UsageError("You must provide a project_id or project_name (with "
                             "project_domain_name or project_domain_id) via "
                             "--os-project-id (env[OS_PROJECT_ID]) or --os-project-name "
                             "(env[OS_PROJECT_NAME])")
        plugin = generic.Password(auth_url, password=password, **user, **project)
    # A few requests only: one connection each, so that a server closing kept-alive
    # connections (uWSGI's http-socket does) never resets a reused one; and a retry for
    # connections that fail all the same.
    http = requests.Session()
    http.headers["Connection"] = "close"
    session = ks_session.Session(auth=plugin, session=http, verify=verify,
                                 timeout=args.timeout, connect_retries=2)
    interface = setting(args, "os_interface") or "public"
    service_type = setting(args, "os_service_type") or "image"
    region = setting(args, "os_region_name")
    where = f" in region {region}" if region else ""
    missing = f"The catalogue of {auth_url} has no {interface} endpoint of service type " \
              f"{service_type}{where}"
    try:
        new_token = session.get_token()
        url = None
        if need_url:
            try:
                url = session.get_endpoint(service_type=service_type, interface=interface,
                                           region_name=region)
            except ks_exc.EndpointNotFound:
                url = None
            if not url:
                raise exception.NotFound(missing)
    except ks_exc.Unauthorized:
        raise exception.NotAuthenticated("Invalid OpenStack Identity credentials.") from None
    except ks_exc.ConnectFailure as exc:
        reason = "Connection refused" if "Connection refused" in str(exc) else str(exc)
        raise exception.ClientConnectionError(
            f"Unable to establish connection to {auth_url}: {reason}") from None
    except ks_exc.ClientException as exc:
        raise exception.GlanceException(f"Keystone at {auth_url}: {exc}") from None
    if not new_token:
        raise exception.NotAuthenticated("Keystone gave no token")
    return new_token, url


def _user(args: argparse.Namespace) -> dict[str, Any]:
    user = {"username": setting(args, "os_username"), "user_id": setting(args, "os_user_id"),
            "user_domain_name": setting(args, "os_user_domain_name"),
            "user_domain_id": setting(args, "os_user_domain_id")}
    if not (user["username"] or user["user_id"]):
        raise UsageError("You must provide a username via either --os-username or "
                         "env[OS_USERNAME]")
    return user


def _password(args: argparse.Namespace) -> str:
    password = setting(args, "os_password")
    if not password and sys.stdin is not None and sys.stdin.isatty():
        try:
            password = getpass.getpass("OS Password: ")
        except EOFError:
            password = None
    if not password:
        raise UsageError("You must provide a password via either --os-password, "
                         "env[OS_PASSWORD], or prompted response")
    return str(password)
