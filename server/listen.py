"""Bind the HTTP port before announcing anything.

``make run`` with the port taken used to print the serving banner, then uvicorn's traceback,
then a Make error. Binding first, and handing the bound socket to uvicorn, means a taken port is
one line naming the way out (``--port`` / ``MOPSGATE_PORT``) and exit 2, and there is no window
between checking the port and using it.
"""

from __future__ import annotations

import errno
import ipaddress
import socket


class PortUnavailable(Exception):
    """The message says what is wrong and what to do; the CLI prints it and exits 2."""


def bind_http_socket(host: str, port: int) -> socket.socket:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        message = f"cannot resolve the bind address {host!r} ({exc.strerror})."
        raise PortUnavailable(message) from exc
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise PortUnavailable(_why(host, port, exc)) from exc
    return sock


def _why(host: str, port: int, exc: OSError) -> str:
    way_out = (
        "Choose another port with --port N or MOPSGATE_PORT=N "
        f"(for example: MOPSGATE_PORT={port + 1} make run)."
    )
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use (another mopsgate?). {way_out}"
    if exc.errno == errno.EACCES:
        return f"not allowed to bind port {port} on {host}. {way_out}"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}. {way_out}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
