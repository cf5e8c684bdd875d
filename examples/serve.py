"""`make serve`: a private pypiserver index with token auth on the embedded SQLite store.

Creates ``DATA/packages`` and the token store ``DATA/pypitoken.sqlite3`` (its secret in
``DATA/pypitoken.sqlite3.secret``, mode 0600), registers the user ``admin`` on first run,
mints a fresh user-wide token, prints the upload URL and the token (each on a line of its
own), then runs ``pypitoken-pypiserver`` in the foreground until Ctrl-C. Uploads,
downloads and listings all need a token (``-a update,download,list``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from pypitoken_core.exceptions import AlreadyExists
from pypitoken_core.service import TokenService

USER = "admin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data", default=".data", help="where packages and the store live")
    args = parser.parse_args()

    data = Path(args.data).resolve()
    packages = data / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{data / 'pypitoken.sqlite3'}"

    service = TokenService.from_url(db_url, domain=f"{args.host}:{args.port}")
    try:
        try:
            service.add_user(USER)
        except AlreadyExists:
            pass
        token, record = service.mint(USER, description="make serve")
    finally:
        service.close()

    url = f"http://{args.host}:{args.port}/"
    print(f"Private index for user {USER!r} (token id {record.id}). Upload URL:")
    print(url)
    print("Token (user-wide; shown once, keep it secret):")
    print(token)
    print(
        "Upload:  twine upload --repository-url URL -u __token__ -p TOKEN dist/*\n"
        "Install: pip install --index-url http://__token__:TOKEN@HOST:PORT/simple/ NAME\n"
        f"More tokens: pypitoken --db {db_url} token create --user {USER} "
        "--project NAME --expires 1d",
        flush=True,
    )

    server = shutil.which("pypitoken-pypiserver", path=os.path.dirname(sys.executable))
    if server is None:
        sys.exit("pypitoken-pypiserver is not installed in this environment")
    argv = [
        server,
        "run",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--authenticate",
        "update,download,list",
        "--token-db",
        db_url,
        "--token-domain",
        f"{args.host}:{args.port}",
        str(packages),
    ]
    os.execv(server, argv)  # noqa: S606 (replace this process: Ctrl-C reaches the server)


if __name__ == "__main__":
    main()
