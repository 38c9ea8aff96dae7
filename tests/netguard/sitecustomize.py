"""Loaded by Python at start-up when this folder is on PYTHONPATH (see tests/test_no_network.py).

Every attempt to resolve a host name or open an internet socket is appended to the file named by
NETGUARD_LOG and refused, so the test can show that no connection was even attempted.
Unix-domain sockets (local inter-process communication) are allowed; with NETGUARD_ALLOW_LOOPBACK=1 also
connections to (and name look-ups of) this machine's loopback address, which a local Ray cluster uses
between its own processes. Anything else is still recorded and refused.
"""
import ipaddress
import os
import socket
import sys

_LOG = os.environ.get("NETGUARD_LOG")
_LOOPBACK_OK = os.environ.get("NETGUARD_ALLOW_LOOPBACK") == "1"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", ""}


def _is_loopback(host):
    if not _LOOPBACK_OK:
        return False
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _record(what):
    if _LOG:
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {prog} {what}\n")
    raise OSError(101, f"network blocked by the test harness: {what}")


_orig_connect = socket.socket.connect
_orig_connect_ex = socket.socket.connect_ex


_orig_getaddrinfo = socket.getaddrinfo
_orig_gethostbyname = socket.gethostbyname
_orig_gethostbyname_ex = socket.gethostbyname_ex
_orig_create_connection = socket.create_connection


def _udp(sock):
    """A UDP connect sends nothing (it only picks the route: Ray finds its own address that way)."""
    return _LOOPBACK_OK and sock.type == socket.SOCK_DGRAM


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]) and not _udp(self):
        _record(f"connect {address!r}")
    return _orig_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]) and not _udp(self):
        _record(f"connect_ex {address!r}")
    return _orig_connect_ex(self, address)


def _numeric(host):
    """A numeric address: resolving it asks no name server (with loopback allowed, it passes)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(host)
        return _LOOPBACK_OK
    except ValueError:
        return False


def _getaddrinfo(host, *a, **k):
    if _is_loopback(host) or _numeric(host):
        return _orig_getaddrinfo(host, *a, **k)
    _record(f"getaddrinfo {host!r}")


def _gethostbyname(host, *a, **k):
    if _is_loopback(host):
        return _orig_gethostbyname(host, *a, **k)
    _record(f"gethostbyname {host!r}")


def _gethostbyname_ex(host, *a, **k):
    if _is_loopback(host):
        return _orig_gethostbyname_ex(host, *a, **k)
    _record(f"gethostbyname_ex {host!r}")


def _create_connection(address, *a, **k):
    if _is_loopback(address[0]):
        return _orig_create_connection(address, *a, **k)
    _record(f"create_connection {address!r}")


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo
socket.gethostbyname = _gethostbyname
socket.gethostbyname_ex = _gethostbyname_ex
socket.create_connection = _create_connection
