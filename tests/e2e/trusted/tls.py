"""What the trusted-publishing clients need around an index: TLS, and a way to pypi.org.

- :func:`tls_front`: nginx (the Debian package) terminating TLS on 127.0.0.1 with a
  certificate from a throwaway CA (trustme) for ``127.0.0.1``, ``localhost`` and
  ``upload.pypi.org``, forwarding everything to the index over http, and ``/legacy/`` to
  the index's upload path (for twine, which only does trusted publishing to pypi.org).
- :class:`ConnectProxy`: an ``HTTPS_PROXY`` that tunnels ``CONNECT upload.pypi.org:443``
  (and nothing else) to that nginx, so that unmodified twine talks to our index while
  believing it talks to pypi.org. It never connects anywhere but 127.0.0.1.
- :func:`client_env`: a clean environment (``env -i``-like: this machine exports
  ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` and ``SSL_CERT_FILE`` pointing at the system
  bundle) simulating a GitHub Actions job that may request an OIDC token.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.e2e.procs import Server, free_port
from tests.oidc_issuer import CI_BEARER, Issuer

__all__ = ["ConnectProxy", "Front", "client_env", "tls_front"]

BIN = Path(sys.executable).parent
NGINX = "/usr/sbin/nginx"


@dataclass
class Front:
    """A running TLS front: its https URL (``https://127.0.0.1:PORT``) and CA file."""

    url: str
    port: int
    ca: Path
    nginx: Server


def _nginx_conf(work: Path, port: int, cert: Path, key: Path, backend: str, upload: str) -> Path:
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(
        f"daemon off;\nworker_processes 1;\npid {work}/nginx.pid;\nerror_log stderr notice;\n"
        "user root;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"  access_log {work}/access.log;\n"
        f"  client_body_temp_path {work}/body;\n  proxy_temp_path {work}/proxy;\n"
        f"  fastcgi_temp_path {work}/fastcgi;\n  uwsgi_temp_path {work}/uwsgi;\n"
        f"  scgi_temp_path {work}/scgi;\n"
        "  server {\n"
        f"    listen 127.0.0.1:{port} ssl;\n"
        f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
        "    client_max_body_size 20m;\n"
        "    proxy_set_header Host $http_host;\n"
        "    proxy_set_header X-Forwarded-Proto https;\n"
        "    proxy_set_header X-outside-url https://$http_host;\n"
        f"    location = /legacy/ {{ proxy_pass {backend}{upload}; }}\n"
        f"    location / {{ proxy_pass {backend}; }}\n"
        "  }\n"
        "}\n"
    )
    return conf


@contextlib.contextmanager
def tls_front(work: Path, backend: str, upload_path: str) -> Iterator[Front]:
    """nginx in front of ``backend`` (``http://127.0.0.1:PORT``) until the block ends."""
    work.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", "upload.pypi.org")
    ca_file, cert_file, key_file = work / "ca.pem", work / "cert.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    port = free_port()
    conf = _nginx_conf(work, port, cert_file, key_file, backend, upload_path)
    log = work / "nginx.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(work)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    server = Server(proc, f"https://127.0.0.1:{port}", log)
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{server.url}/_/oidc/audience", context=context, timeout=5)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start:\n{server.log_text()}") from None
                time.sleep(0.1)
        yield Front(server.url, port, ca_file, server)
    finally:
        server.stop()


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 sending ``upload.pypi.org:443`` to ``port``.

    Any other CONNECT target is refused (403), so nothing leaves the machine. ``targets``
    records what was asked for. Stopped (and its threads ended) by :meth:`close`.
    """

    def __init__(self, port: int) -> None:
        self.targets: list[str] = []
        self._port = port
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def close(self) -> None:
        self._stop.set()
        self._accept.join()
        for thread in self._threads:
            thread.join(timeout=10)
        self._server.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._tunnel, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.targets.append(line)
            if line.split(" ")[:2] != ["CONNECT", "upload.pypi.org:443"]:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self._port)) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pair = [client, upstream]
                while not self._stop.is_set():
                    ready, _, _ = select.select(pair, [], [], 0.5)
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is client else client).sendall(data)


def client_env(issuer: Issuer, home: Path, **extra: str) -> dict[str, str]:
    """A GitHub Actions job's environment, and nothing of this machine's (see module
    docstring); ``extra`` adds the client's CA settings."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "GITHUB_ACTIONS": "true",
        "ACTIONS_ID_TOKEN_REQUEST_URL": issuer.token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": CI_BEARER,
        **extra,
    }
