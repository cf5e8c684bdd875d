"""`make serve`: a private pypiserver index with token auth on the embedded SQLite store.

Creates ``DATA/packages`` and the token store ``DATA/pypitoken.sqlite3`` (its secret in
``DATA/pypitoken.sqlite3.secret``, mode 0600), registers the user ``admin`` on first run,
revokes the token an earlier run minted and mints a new user-wide one that expires
(``--token-lifetime``, default 7 days), gives ``admin`` a new random password for the
token page (``DATA/htpasswd``, mode 0600; ``admin`` is the page's administrator), prints
the upload URL and the token, the token page's URL and the password (each on a line of
its own) and the commands to use them, then runs ``pypitoken-pypiserver`` in the
foreground until Ctrl-C. Uploads, downloads and listings all need a token or the
password (``-a update,download,list``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import shlex
import shutil
import sys
import time
from pathlib import Path

from passlib.apache import HtpasswdFile

from pypitoken_core.exceptions import AlreadyExists, PyPITokenException
from pypitoken_core.service import TokenService
from pypitoken_core.store import TokenRecord

USER = "admin"
#: The description of the tokens this script mints: the one it revokes at the next run.
DESCRIPTION = "make serve"
WEEK = 7 * 24 * 3600


def _command(name: str) -> str:
    """How to call this environment's console script ``name`` from the current directory
    (``.venv/bin/pypitoken``): it is not on PATH unless the venv is activated."""
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    if path is None:
        sys.exit(f"{name} is not installed in this environment")
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def _rotate(service: TokenService, lifetime: int) -> tuple[str, TokenRecord, list[str]]:
    """Revoke the live tokens earlier runs minted; mint one that expires in ``lifetime``
    seconds (at most the store's maximum). Returns the token, its record and the revoked
    ids."""
    try:
        service.add_user(USER)
    except AlreadyExists:
        pass
    now = int(time.time())
    revoked = []
    for record in service.list_tokens(USER):
        live = not record.revoked and (record.expires is None or record.expires > now)
        if live and record.description == DESCRIPTION:
            service.revoke(record.id)
            revoked.append(record.id)
    if service.max_lifetime:
        lifetime = min(lifetime, service.max_lifetime)
    token, record = service.mint(
        USER, description=DESCRIPTION, expires=datetime.timedelta(seconds=lifetime)
    )
    return token, record, revoked


def _new_password(htpasswd: Path) -> str:
    """A new random password for ``admin`` in the htpasswd file (created mode 0600); the
    previous run's stops working."""
    password = secrets.token_urlsafe(16)
    fd = os.open(htpasswd, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    users = HtpasswdFile(str(htpasswd), default_scheme="apr_md5_crypt")
    users.set_password(USER, password)
    users.save()
    return password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data", default=".data", help="where packages and the store live")
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=WEEK,
        metavar="SECONDS",
        help="how long the printed token works (default: 7 days)",
    )
    args = parser.parse_args()
    if args.token_lifetime <= 0:
        parser.error("--token-lifetime must be a positive number of seconds")

    data = Path(args.data).resolve()
    packages = data / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{data / 'pypitoken.sqlite3'}"
    server = _command("pypitoken-pypiserver")
    admin = _command("pypitoken")

    service = TokenService.from_url(db_url, domain=f"{args.host}:{args.port}")
    try:
        token, record, revoked = _rotate(service, args.token_lifetime)
    except PyPITokenException as exc:
        sys.exit(f"make serve: {exc}")
    finally:
        service.close()
    htpasswd = data / "htpasswd"
    password = _new_password(htpasswd)

    url = f"http://{args.host}:{args.port}/"
    until = datetime.datetime.fromtimestamp(record.expires or 0, datetime.UTC)
    if revoked:
        print(f"Revoked the token of the previous run ({', '.join(revoked)}).")
    print(f"Private index for user {USER!r} (token id {record.id}). Upload URL:")
    print(url)
    print(f"Token (user-wide, expires {until:%Y-%m-%d %H:%M} UTC; shown once, keep it secret):")
    print(token)
    print(f"Token page (make tokens, revoke them, manage projects), for {USER!r}:")
    print(f"{url}+tokens")
    print(f"Password of {USER!r} there (until the next `make serve`; keep it secret):")
    print(password)
    netloc = f"{args.host}:{args.port}"
    print(
        "In another shell, in this directory, with TOKEN set to the token above (twine and\n"
        "pip are your own; NAME is a project):\n"
        f'  twine upload --repository-url {url} -u __token__ -p "$TOKEN" dist/*\n'
        f'  pip install --index-url "http://__token__:$TOKEN@{netloc}/simple/" NAME\n'
        f"  {shlex.quote(admin)} --db {db_url} token create --user {USER} "
        "--project NAME --expires 1d",
        flush=True,
    )

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
        "--passwords",
        str(htpasswd),
        "--token-admins",
        USER,
        str(packages),
    ]
    os.execv(server, argv)  # noqa: S606 (replace this process: Ctrl-C reaches the server)


if __name__ == "__main__":
    main()
