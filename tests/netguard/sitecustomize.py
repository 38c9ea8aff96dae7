"""Loaded by Python at start-up when this folder is on PYTHONPATH (see tests/test_no_network.py).

Every attempt to resolve a host name or open an internet socket is appended to the file named by
NETGUARD_LOG and refused, so the test can show that no connection was even attempted.
Unix-domain sockets (local inter-process communication) are allowed.
"""
import os
import socket

_LOG = os.environ.get("NETGUARD_LOG")


def _record(what):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {what}\n")
    raise OSError(101, f"network blocked by the test harness: {what}")


_orig_connect = socket.socket.connect
_orig_connect_ex = socket.socket.connect_ex


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect {address!r}")
    return _orig_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect_ex {address!r}")
    return _orig_connect_ex(self, address)


def _getaddrinfo(host, *a, **k):
    _record(f"getaddrinfo {host!r}")


def _gethostbyname(host, *a, **k):
    _record(f"gethostbyname {host!r}")


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo
socket.gethostbyname = _gethostbyname
socket.gethostbyname_ex = _gethostbyname
socket.create_connection = lambda address, *a, **k: _record(f"create_connection {address!r}")
