"""Building a pypiserver app (or config) whose auther is :class:`TokenAuther`.

Shared by the three ways to run: the ``pypitoken-pypiserver`` command, the WSGI factory
``make_app`` (gunicorn, waitress) and the paste factory.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pypiserver
from pypiserver.bottle_wrapper import Bottle
from pypiserver.config import RunConfig

from pypitoken_core.exceptions import PyPITokenException, StoreError
from pypitoken_core.service import OWNERSHIP_CHOICES, TokenService
from pypitoken_core.store import redact_url

from ._auth import TokenAuther
from ._redact import install_log_redaction
from ._storage import OwnedStorage
from ._web import WebSettings, token_front

__all__ = [
    "PackageDirectoryError",
    "TokenSettings",
    "admin_names",
    "check_package_dirs",
    "default_token_db",
    "install_auther",
    "make_app",
    "paste_app_factory",
    "with_token_pages",
]


def default_token_db() -> str:
    """``$PYPITOKEN_DB``, else an SQLite file ``pypitoken.sqlite3`` in the current directory."""
    return os.environ.get("PYPITOKEN_DB") or f"sqlite:///{pathlib.Path.cwd() / 'pypitoken.sqlite3'}"


class PackageDirectoryError(ValueError):
    """A package directory the server could not serve from or store uploads in."""


def check_package_dirs(roots: Sequence[pathlib.Path]) -> None:
    """Refuse to start on package directories pypiserver would fail on only later.

    pypiserver starts on a missing or read-only directory and answers the first upload
    with a 500 (``FileNotFoundError``, ``PermissionError``), which twine retries five
    times; and only its command line checks the directories it is given, not its default
    ``~/packages`` nor those of ``pypiserver.app()``. So every directory must exist and be
    readable, and the first, where uploads are stored, writable: tried by creating (and
    dropping) a temporary file in it, which also catches read-only mounts and ACLs.
    Raises :class:`PackageDirectoryError` naming the directory and what to do.
    """
    for position, root in enumerate(roots):
        if not root.exists():
            raise PackageDirectoryError(
                f"the package directory {root} does not exist: create it "
                f"(mkdir -p {root}) or name another one"
            )
        if not root.is_dir():
            raise PackageDirectoryError(f"the package directory {root} is not a directory")
        try:
            next(root.iterdir(), None)
        except OSError as exc:
            raise PackageDirectoryError(
                f"cannot read the package directory {root}: {exc.strerror}"
            ) from exc
        if position == 0:
            try:
                with tempfile.TemporaryFile(dir=root):
                    pass
            except OSError as exc:
                raise PackageDirectoryError(
                    f"cannot write to the package directory {root}, where uploads are "
                    f"stored: {exc.strerror}; make it writable for the user the server "
                    "runs as"
                ) from exc


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """How to reach the token store; the adapter's only configuration."""

    db: str
    domain: str | None = None
    secret_file: str | None = None
    ownership: str = "pypi"
    allow_delete: bool = False
    #: Longest lifetime (seconds) of a token minted on this store; 0 for none, None to
    #: keep the store's setting.
    max_lifetime: int | None = None
    #: The user who owns every project found with files but no owner (``--adopt-unowned``).
    adopt_unowned: str | None = None
    #: Users who may manage every user's tokens and projects (``--token-admins``).
    admins: tuple[str, ...] = ()
    #: Take https and the client's address from X-Forwarded-Proto and X-Forwarded-For
    #: (``--trust-proxy-headers``): only behind a proxy that sets them.
    trust_proxy_headers: bool = False

    def __post_init__(self) -> None:
        if self.ownership not in OWNERSHIP_CHOICES:
            raise ValueError(
                f"ownership must be one of {OWNERSHIP_CHOICES}, not {self.ownership!r}"
            )
        if self.max_lifetime is not None and (
            type(self.max_lifetime) is not int or self.max_lifetime < 0
        ):
            raise ValueError(
                f"the maximum token lifetime must be a number of seconds, not {self.max_lifetime!r}"
            )

    def open(self) -> TokenService:
        """Open a :class:`TokenService` on the store."""
        return TokenService.from_url(
            self.db,
            secret_file=self.secret_file,
            domain=self.domain,
            ownership=self.ownership,
            allow_delete=self.allow_delete,
            max_lifetime=self.max_lifetime,
        )


class _PerProcess:
    """One service per process, opened on first use.

    gunicorn (and ``--server gunicorn``) may build the app in the master and fork workers;
    a database connection must not cross a fork, so a new PID opens its own service.
    """

    def __init__(self, factory: Callable[[], TokenService]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._pid = -1
        self._service: TokenService | None = None

    def __call__(self) -> TokenService:
        service, pid = self._service, os.getpid()
        if service is None or self._pid != pid:
            with self._lock:
                if self._service is None or self._pid != pid:
                    self._service, self._pid = self._factory(), pid
                service = self._service
        return service


def install_auther(config: RunConfig, settings: TokenSettings) -> RunConfig:
    """Put a :class:`TokenAuther` in ``config``, keeping pypiserver's own as the fallback,
    and wrap ``config.backend`` so that only a stored file claims a project.

    The store is opened once now, so a bad ``--token-db`` (or an unknown
    ``--adopt-unowned`` user) fails at start-up, not at the first upload; with
    ``adopt_unowned``, every project pypiserver serves that has no owner becomes that
    user's now. Raises :class:`pypitoken_core.exceptions.PyPITokenException` if it cannot.
    """
    install_log_redaction()
    if not config.authenticate:  # `-a .`: pypiserver never calls an auther
        return config
    try:
        service = settings.open()
    except PyPITokenException as exc:
        raise StoreError(f"cannot open the token store {redact_url(settings.db)}: {exc}") from exc
    try:
        if settings.adopt_unowned is not None:
            service.adopt_unowned(settings.adopt_unowned, config.backend.get_projects())
    finally:
        service.close()
    per_process = _PerProcess(settings.open)
    config.auther = TokenAuther(per_process, fallback=config.auther)
    config.backend = OwnedStorage(
        config.backend,
        per_process,
        checked="update" in config.authenticate,
        adopt_for=settings.adopt_unowned,
    )
    return config


def with_token_pages(app: Any, config: RunConfig, settings: TokenSettings) -> Any:
    """``app`` (pypiserver's) with the token page (``/+tokens``) and the token API
    (``/+api-tokens``, ``/+api-projects``) in front, once :func:`install_auther` put
    the token auther in ``config``; ``app`` itself when it did not (``-a .``)."""
    auther = config.auther
    if not isinstance(auther, TokenAuther):
        return app
    password_file = getattr(config, "password_file", None)
    web = WebSettings(
        admins=frozenset(settings.admins),
        trust_proxy_headers=settings.trust_proxy_headers,
        passwords=password_file not in (None, "."),
    )
    return token_front(app, auther.service, auther.fallback, web)


def make_app(
    *,
    token_db: str | None = None,
    token_domain: str | None = None,
    token_secret_file: str | None = None,
    ownership: str = "pypi",
    allow_token_delete: bool = False,
    token_max_lifetime: int | None = None,
    adopt_unowned: str | None = None,
    token_admins: Sequence[str] | str = (),
    trust_proxy_headers: bool = False,
    **pypiserver_options: Any,
) -> Any:
    """Return pypiserver's WSGI app with token authentication.

    ``pypiserver_options`` are those of ``pypiserver.app()`` (``roots``, ``authenticate``,
    ``password_file``, ...; legacy names such as ``root`` too); ``roots`` may be strings.
    ``token_db`` defaults to :func:`default_token_db`. ``token_max_lifetime`` (seconds,
    0 for none) caps the lifetime of tokens minted on the store, also by ``pypitoken
    token create``; it is saved in the store. ``adopt_unowned`` names the user
    who owns every project found with files but no owner (see :func:`install_auther`;
    without it, uploads to such a project are refused until an admin names its owner).
    Unlike ``pypiserver.app()``, a ``server_base_url`` is honoured by mounting the app
    under it, and a package directory that is missing, or the first one unwritable,
    raises :class:`PackageDirectoryError` (see :func:`check_package_dirs`). The token
    page (``/+tokens``) and the token API (``/+api-tokens``) are in front of pypiserver:
    users log in with their ``password_file`` password; ``token_admins`` (names, or one
    comma-separated string) may manage everyone's tokens and projects;
    ``trust_proxy_headers`` reads https and the client's address from the proxy's
    X-Forwarded-Proto and X-Forwarded-For. For gunicorn:
    ``gunicorn 'pypitoken_pypiserver:make_app(root="/srv/packages")'``.
    """
    if "auther" in pypiserver_options:
        raise TypeError("make_app() builds the auther itself; pass password_file= for htpasswd")
    options = pypiserver.backwards_compat_kwargs(pypiserver_options)
    if "roots" in options:
        options["roots"] = [pathlib.Path(r).expanduser().resolve() for r in options["roots"]]
    settings = TokenSettings(
        db=token_db or default_token_db(),
        domain=token_domain,
        secret_file=token_secret_file,
        ownership=ownership,
        allow_delete=allow_token_delete,
        max_lifetime=token_max_lifetime,
        adopt_unowned=adopt_unowned,
        admins=admin_names(token_admins),
        trust_proxy_headers=trust_proxy_headers,
    )
    config = pypiserver.Config.default_with_overrides(**options)
    check_package_dirs(config.roots)
    config = install_auther(config, settings)
    app = pypiserver.setup_routes_from_config(pypiserver.app_from_config(config), config)
    app = with_token_pages(app, config, settings)
    if config.server_base_url.strip("/"):
        outer = Bottle()
        outer.mount(config.server_base_url, app)
        return outer
    return app


def admin_names(value: Sequence[str] | str) -> tuple[str, ...]:
    """Token administrators from a list of names or one string of names separated by
    commas or spaces; refuses a name no user can have."""
    names = _words(value) if isinstance(value, str) else list(value)
    for name in names:
        if not isinstance(name, str) or not name or name != name.strip() or "," in name:
            raise ValueError(f"not a user name for --token-admins: {name!r}")
    return tuple(dict.fromkeys(names))


def _flag(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on", "y", "t"):
        return True
    if lowered in ("0", "false", "no", "off", "n", "f"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _words(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


# Paste hands every option over as a string.
_PASTE_TYPES: Mapping[str, Callable[[str], Any]] = {
    "roots": _lines,
    "root": _lines,
    "authenticate": _words,
    "authenticated": _words,
    "disable_fallback": _flag,
    "redirect_to_fallback": _flag,
    "overwrite": _flag,
    "allow_token_delete": _flag,
    "trust_proxy_headers": _flag,
    "token_admins": _words,
    "token_max_lifetime": int,
    "cache_control": int,
    "verbosity": int,
    "port": int,
}


def paste_app_factory(global_config: Mapping[str, str], **local_conf: str) -> Any:
    """The ``paste.app_factory`` entry point: ``use = egg:pypitoken-core#main``.

    Takes the options of :func:`make_app` as strings (lists space- or comma-separated,
    ``roots`` one per line).
    """
    options = {key: _PASTE_TYPES.get(key, str)(value) for key, value in local_conf.items()}
    if "authenticate" in options and options["authenticate"] == ["."]:
        options["authenticate"] = []
    return make_app(**options)
