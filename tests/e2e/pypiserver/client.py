"""A raw HTTP client for pypiserver: the requests twine and pip cannot be made to send.

twine always sends a ``name`` matching the file; a spoofed upload, a ``remove_pkg`` or a
thousand requests on one keep-alive connection need their bytes written by hand.
Also used by ``benchmarks/bench_pypiserver.py``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import uuid
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Response", "basic", "connect", "form_body", "request", "upload_body"]


def basic(username: str, password: str) -> str:
    """The value of an ``Authorization: Basic`` header."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def form_body(
    fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None
) -> tuple[bytes, str]:
    """Encode ``fields`` and ``files`` (field -> (filename, data)) as multipart/form-data."""
    boundary = uuid.uuid4().hex
    out: list[bytes] = []
    for key, value in fields.items():
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for key, (filename, data) in (files or {}).items():
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def upload_body(path: Path, name: str, version: str = "0.1") -> tuple[bytes, str]:
    """The body twine would send to upload ``path``, with ``name`` as the form's project name."""
    data = path.read_bytes()
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel" if path.suffix == ".whl" else "sdist",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    return form_body(fields, {"content": (path.name, data)})


class Response:
    """Status, reason phrase, headers (lowercase names) and body of one answer."""

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason!r}>"


def connect(base_url: str, timeout: float = 30) -> http.client.HTTPConnection:
    """A keep-alive connection to ``base_url``'s host and port."""
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    auth: str | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> Response:
    """Send one request (on ``conn`` if given, else on a fresh connection closed after)."""
    own = conn is None
    connection = connect(base_url) if conn is None else conn
    try:
        headers = {"User-Agent": "pypitoken-e2e"}
        if auth is not None:
            headers["Authorization"] = auth
        if content_type is not None:
            headers["Content-Type"] = content_type
        connection.request(method, path, body=body, headers=headers)
        resp = connection.getresponse()
        data = resp.read()
        headers_in = {k.lower(): v for k, v in resp.getheaders()}
        return Response(resp.status, resp.reason, headers_in, data)
    finally:
        if own:
            connection.close()
