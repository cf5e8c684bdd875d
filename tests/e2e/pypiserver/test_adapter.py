"""The adapter in-process: extraction and mapping tables, the reason phrase, the log filter,
the catch-all, and pypiserver's real WSGI app built by ``make_app``/``paste_app_factory``.
No server process is started here; these run in milliseconds."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pypiserver
import pytest
from pypiserver.bottle_wrapper import HTTPError, request
from pypiserver.config import RunConfig
from pypitoken_pypiserver import _app as app_module
from pypitoken_pypiserver import make_app, paste_app_factory
from pypitoken_pypiserver._auth import (
    UPLOADER_KEY,
    Refused,
    Target,
    TokenAuther,
    Uploader,
    extract_token,
    forbidden,
    target_from_form,
    target_from_url,
)
from pypitoken_pypiserver._redact import MASK, RedactingFilter, redact
from pypitoken_pypiserver._storage import OwnedStorage
from pypitoken_pypiserver.cli import main as cli_main

from pypitoken_core import Context
from pypitoken_core.exceptions import StoreError, ValidationError
from pypitoken_core.service import Identity, TokenService
from tests.e2e.dists import make_sdist, make_wheel

from .client import basic, form_body, upload_body

TOKEN = "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMAAABiD" + "x" * 43


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("__token__", TOKEN, TOKEN),
        ("__token__", "anything", "anything"),  # __token__ always means a token
        ("", TOKEN, TOKEN),  # some clients send only the password
        ("", "password", None),
        ("alice", TOKEN, None),  # a password that looks like a token is still a password
        ("alice", "pw", None),
        ("__token__", None, None),
    ],
)
def test_extract_token(username: str, password: str | None, expected: str | None) -> None:
    assert extract_token(username, password, "pypi") == expected


@pytest.mark.parametrize(
    ("method", "path", "url_args", "expected"),
    [
        ("GET", "/simple/Foo.Bar/", {"project": "Foo.Bar"}, Target("download", "foo-bar")),
        ("GET", "/simple/foo_bar", {"project": "foo_bar"}, Target("download", "foo-bar")),
        ("GET", "/Foo/json", {"project": "Foo"}, Target("download", "foo")),
        (
            "GET",
            "/packages/x",
            {"filename": "Foo_Bar-1.0-py3-none-any.whl"},
            Target("download", "foo-bar"),
        ),
        (
            "GET",
            "/packages/x",
            {"filename": "sub/foo.bar-1.0.tar.gz"},
            Target("download", "foo-bar"),
        ),
        ("GET", "/packages/x", {"filename": "README.txt"}, Target("download", None)),
        ("GET", "/simple/", {}, Target("download", None)),
        ("GET", "/packages/", {}, Target("download", None)),
        ("POST", "/RPC2", {}, Target("download", None)),
        ("POST", "/", {}, None),
    ],
)
def test_target_from_url(method: str, path: str, url_args: dict, expected: Target | None) -> None:
    assert target_from_url(method, path, url_args) == expected


def upload(name: str | None, filename: str, signature: str | None = None) -> tuple[dict, dict]:
    forms = {":action": "file_upload"} | ({} if name is None else {"name": name})
    files = {"content": SimpleNamespace(raw_filename=filename)}
    if signature is not None:
        files["gpg_signature"] = SimpleNamespace(raw_filename=signature)
    return forms, files


@pytest.mark.parametrize(
    ("forms", "files", "expected"),
    [
        (*upload("Foo.Bar", "foo_bar-1.0-py3-none-any.whl"), Target("upload", "foo-bar")),
        (
            *upload("foo-bar", "Foo.Bar-1.0.tar.gz", "Foo.Bar-1.0.tar.gz.asc"),
            Target("upload", "foo-bar"),
        ),
        (
            {":action": "remove_pkg", "name": "Foo_Bar", "version": "1"},
            {},
            Target("delete", "foo-bar"),
        ),
        ({":action": "doc_upload", "name": "Foo"}, {}, Target("upload", "foo")),
        ({":action": "verify", "name": "Foo"}, {}, Target("upload", "foo")),
    ],
)
def test_target_from_form(forms: dict, files: dict, expected: Target) -> None:
    assert target_from_form(forms, files) == expected


@pytest.mark.parametrize(
    ("forms", "files", "reason"),
    [
        (*upload("victim", "mine-1.0-py3-none-any.whl"), "does not belong to project 'victim'"),
        (*upload(None, "mine-1.0-py3-none-any.whl"), "missing form field 'name'"),
        (*upload("mine", "mine.exe"), "cannot tell the project"),
        (*upload("mine", "mine-1.0.tar.gz", "victim-1.0.tar.gz.asc"), "cannot tell the project"),
        ({":action": "file_upload", "name": "mine"}, {}, "missing file field 'content'"),
        ({":action": "remove_pkg"}, {}, "missing form field 'name'"),
        ({":action": "nuke", "name": "x"}, {}, "unsupported ':action' 'nuke'"),
        ({}, {}, "unsupported ':action' None"),
    ],
)
def test_target_from_form_refuses(forms: dict, files: dict, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        target_from_form(forms, files)


def test_reason_phrase_is_printable_ascii_on_one_line() -> None:
    error = forbidden("Invalid API Token", "bad\r\nSet-Cookie: a=b ünï " + "x" * 1000)

    assert error.status_code == 403
    phrase = error.status_line.split(" ", 1)[1]
    assert phrase.startswith("Invalid API Token: bad??Set-Cookie: a=b ?n? x")
    assert phrase.isascii() and phrase.isprintable()
    assert len(phrase) <= 400


def test_redact_masks_authorization_values_and_raw_tokens() -> None:
    text = f"Authorization: Basic X190b2tlbl9fOnB5cGk= then {TOKEN} and bearer abc.def-ghi"
    assert redact(text) == f"Authorization: Basic {MASK} then {MASK} and bearer {MASK}"
    assert redact("pypi-server stored foo-1.0.tar.gz") == "pypi-server stored foo-1.0.tar.gz"


def test_redact_masks_an_oidc_token() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL3gifQ.c2lnbmF0dXJl"
    assert redact(f"KeyError: {{'token': '{jwt}'}}") == f"KeyError: {{'token': '{MASK}'}}"
    assert redact(f"an unsigned {jwt[:-12]}") == f"an unsigned {MASK}"
    # Dotted names that are not JWTs stay readable.
    assert redact("eyJ.b.c and foo.bar.baz-1.0") == "eyJ.b.c and foo.bar.baz-1.0"


def record(msg: str, args: Any, exc_info: Any = None) -> logging.LogRecord:
    return logging.LogRecord("pypiserver._app", logging.INFO, __file__, 1, msg, args, exc_info)


def test_log_filter_masks_the_environ_without_touching_it() -> None:
    environ = {"PATH_INFO": "/", "HTTP_AUTHORIZATION": basic("__token__", TOKEN)}
    rec = record("%s", (environ,))

    assert RedactingFilter().filter(rec) is True

    assert rec.getMessage() == str({"PATH_INFO": "/", "HTTP_AUTHORIZATION": MASK})
    assert environ["HTTP_AUTHORIZATION"] == basic("__token__", TOKEN)  # the live environ


def test_log_filter_on_a_named_key_and_on_a_broken_format() -> None:
    environ = {"HTTP_AUTHORIZATION": basic("__token__", TOKEN)}
    named = record("%(HTTP_AUTHORIZATION)s", (environ,))
    broken = record("%(HTTP_AUTHORIZATION)s %d", (environ,))

    RedactingFilter().filter(named)
    RedactingFilter().filter(broken)

    assert named.getMessage() == MASK
    assert TOKEN not in broken.getMessage()
    assert "HTTP_AUTHORIZATION" not in str(broken.args)


def test_log_filter_masks_tracebacks() -> None:
    try:
        raise ValueError(f"cannot use {TOKEN}")
    except ValueError:
        rec = record("failed", None, sys.exc_info())

    RedactingFilter().filter(rec)

    assert TOKEN not in logging.Formatter().format(rec)
    assert MASK in rec.exc_text


class FakeService:
    """Stands in for TokenService: records contexts, raises what it is told to."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.contexts: list[Any] = []

    def authenticate(self, raw: str, context: Any, *, user: str | None = None) -> None:
        self.contexts.append(context if isinstance(context, Context) else context())
        if self.error:
            raise self.error

    def authorize_user(self, user: str, context: Any) -> None:
        self.authenticate(user, context)

    def recognizes(self, raw: str) -> bool:
        return raw.startswith("pypi-Ag")


def bound(method: str = "GET", path: str = "/simple/Foo/", **url_args: str) -> None:
    request.bind(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "route.url_args": url_args or {"project": "Foo"},
        }
    )


def auther(service: Any, fallback: Callable[[str, str], bool] = lambda u, p: False) -> TokenAuther:
    return TokenAuther(lambda: service, fallback)


def test_auther_passes_the_context_to_the_service() -> None:
    service = FakeService()
    bound()

    assert auther(service)("__token__", TOKEN) is True
    assert (service.contexts[0].project_name, service.contexts[0].action) == ("foo", "download")


def test_auther_turns_a_validation_error_into_the_reason_phrase() -> None:
    bound()
    with pytest.raises(HTTPError) as caught:
        auther(FakeService(ValidationError("token revoked")))("__token__", TOKEN)
    assert caught.value.status_line == "403 Invalid API Token: token revoked"


def test_auther_password_users_go_to_the_fallback_then_the_ownership_rules() -> None:
    bound()
    service = FakeService()
    with pytest.raises(HTTPError) as wrong:
        auther(service, lambda u, p: False)("alice", "pw")
    assert wrong.value.status_line == (
        "403 wrong password for user 'alice'; use __token__ as the user name with an API"
        " token, or check the password"
    )
    assert service.contexts == []  # a wrong password never reaches the service
    assert auther(service, lambda u, p: (u, p) == ("alice", "pw"))("alice", "pw") is True

    refusing = FakeService(ValidationError("user alice may not upload to project 'foo'"))
    with pytest.raises(HTTPError) as caught:
        auther(refusing, lambda u, p: True)("alice", "pw")
    assert caught.value.status_line == "403 Forbidden: user alice may not upload to project 'foo'"


@pytest.mark.parametrize(
    "error",
    [RuntimeError(f"database said {TOKEN}"), StoreError(f"down: {TOKEN}"), KeyError(TOKEN)],
)
def test_auther_never_answers_500_and_never_logs_the_token(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    bound()
    caplog.set_level(logging.ERROR, logger="pypitoken_pypiserver")
    with pytest.raises(HTTPError) as caught:
        auther(FakeService(error))("__token__", TOKEN)

    assert caught.value.status_line == "403 Forbidden: the server could not check these credentials"
    assert caplog.records, "the failure is logged"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_refusal_lines_mask_a_token_sent_as_the_user_name() -> None:
    """The refusal logger is a child of the adapter's: it needs the filter of its own (a
    logger's filters never see a child's records), and the line masks what it quotes."""
    from pypitoken_pypiserver._auth import refusals_logged
    from pypitoken_pypiserver._redact import install_log_redaction

    install_log_redaction()
    refusals_logged()  # as install_auther does: the lines at INFO
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda rec: lines.append(logging.Formatter().format(rec))  # type: ignore[method-assign]
    refusals = logging.getLogger("pypitoken_pypiserver.refusals")
    refusals.addHandler(handler)
    try:
        refusals.info("pypitoken: refused user=%s: %s", TOKEN, "wrong password")
        bound()
        with pytest.raises(HTTPError):
            auther(FakeService())(TOKEN, "not-the-password")
    finally:
        refusals.removeHandler(handler)
    assert len(lines) == 2, lines
    assert all(TOKEN[:40] not in line and MASK in line for line in lines), lines


def test_auther_catch_all_without_a_bound_request(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> TokenService:
        raise OSError("no database")

    with pytest.raises(HTTPError) as caught:
        TokenAuther(broken, lambda u, p: False)("__token__", TOKEN)
    assert caught.value.status_line == "403 Forbidden: the server could not check these credentials"
    bound()
    assert TokenAuther(lambda: FakeService(), lambda u, p: False)("__token__", TOKEN) is True


# -- pypiserver's real app, in-process ---------------------------------------------------


def call(
    app: Any,
    method: str,
    path: str,
    auth: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    environ: dict | None = None,
    sent: int | None = None,
) -> str:
    """Run one WSGI request (in ``environ`` if given, to look at it after); return the status.

    ``sent``: only this many bytes of ``body`` arrive (a client gone mid-request).
    """
    environ = environ if environ is not None else {}
    environ |= {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body[:sent]),
        "wsgi.errors": io.StringIO(),
        "CONTENT_LENGTH": str(len(body)),
    }
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    if auth:
        environ["HTTP_AUTHORIZATION"] = auth
    status: list[str] = []
    for _chunk in app(environ, lambda s, h, e=None: status.append(s)):
        pass
    return status[0]


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, str, Path]:
    """A store with user ulla and a user-wide token; returns (db URL, token, packages dir)."""
    db = f"sqlite:///{tmp_path / 'tokens.sqlite3'}"
    service = TokenService.from_url(db)
    try:
        service.add_user("ulla")
        raw, _ = service.mint("ulla")
    finally:
        service.close()
    packages = tmp_path / "packages"
    packages.mkdir()
    return db, raw, packages


def test_token_api_answers_unreadable_requests_with_a_4xx(
    store: tuple[str, str, Path], tmp_path: Path
) -> None:
    """A body without a Content-Length (chunked, as gunicorn passes it on) or a query of
    too many fields is the client's mistake: a 4xx with its reason, never a 500."""
    from passlib.apache import HtpasswdFile

    db, _raw, packages = store
    htpasswd = HtpasswdFile(str(tmp_path / "htpasswd"), new=True)
    htpasswd.set_password("ulla", "ulla-pw")
    htpasswd.save()
    app = make_app(
        roots=[packages], token_db=db, disable_fallback=True, password_file=str(htpasswd.path)
    )

    def answer(method: str, query: str = "", length: str | None = None) -> str:
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": "/+api-tokens", "SCRIPT_NAME": "",
            "QUERY_STRING": query, "SERVER_NAME": "test", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b"{}"), "wsgi.errors": io.StringIO(),
            "HTTP_AUTHORIZATION": basic("ulla", "ulla-pw"), "CONTENT_TYPE": "application/json",
        }  # fmt: skip
        if length is not None:
            environ["CONTENT_LENGTH"] = length
        status: list[str] = []
        for _chunk in app(environ, lambda s, h, e=None: status.append(s)):
            pass
        return status[0]

    assert answer("GET") == "200 OK"  # the control
    assert answer("GET", "&".join(f"f{n}=1" for n in range(21))) == "400 Bad Request"
    assert answer("POST") == "411 Length Required"
    assert answer("POST", length="two") == "400 Bad Request"
    assert answer("POST", length="2") == "201 Created"  # the control


def test_make_app_checks_uploads_by_file_name(store, tmp_path: Path) -> None:
    db, token, packages = store
    app = make_app(roots=[str(packages)], token_db=db, disable_fallback=True)
    auth = basic("__token__", token)
    wheel, sdist = make_wheel(tmp_path, "in.proc", "1.0"), make_sdist(tmp_path, "in.proc", "1.0")

    assert call(app, "POST", "/", auth, *upload_body(wheel, "In_Proc")) == "200 OK"
    assert call(app, "POST", "/", auth, *upload_body(sdist, "victim")).startswith(
        "403 Forbidden: file 'in_proc-1.0.tar.gz' does not belong to project 'victim'"
    )
    assert call(app, "POST", "/", None, *upload_body(sdist, "in-proc")).startswith("401")
    assert call(app, "GET", "/simple/in-proc/") == "200 OK"  # -a update: reads are open
    removal = form_body({":action": "remove_pkg", "name": "in_proc", "version": "1.0"})
    assert call(app, "POST", "/", auth, *removal).startswith("403 Invalid API Token: ")
    assert [p.name for p in packages.iterdir()] == [wheel.name]


def test_form_of_a_forged_token_is_never_read(store, tmp_path: Path) -> None:
    db, token, packages = store
    app = make_app(roots=[packages], token_db=db, disable_fallback=True)
    forged = token[:-8] + ("AAAAAAAA" if not token.endswith("AAAAAAAA") else "BBBBBBBB")
    body, ctype = upload_body(make_wheel(tmp_path, "in.proc", "1.0"), "spoofed-name")
    environ: dict[str, Any] = {}

    status = call(app, "POST", "/", basic("__token__", forged), body, ctype, environ)

    assert status.startswith("403 Invalid API Token: "), status
    assert "does not belong" not in status
    assert "bottle.request.forms" not in environ and "bottle.request.body" not in environ
    # The genuine token does get to the form, and to its project check.
    status = call(app, "POST", "/", basic("__token__", token), body, ctype)
    assert "does not belong to project 'spoofed-name'" in status


def test_make_app_mounts_under_server_base_url(store) -> None:
    db, token, packages = store
    app = make_app(
        roots=[packages],
        token_db=db,
        authenticate=["list"],
        server_base_url="/pypi/",
        disable_fallback=True,
    )

    assert call(app, "GET", "/pypi/simple/").startswith("401")
    assert call(app, "GET", "/pypi/simple/", basic("__token__", token)) == "200 OK"


def test_make_app_refuses_an_auther() -> None:
    with pytest.raises(TypeError, match="auther"):
        make_app(auther=lambda u, p: True)


def test_paste_factory_parses_strings(store) -> None:
    db, token, packages = store
    app = paste_app_factory(
        {},
        roots=f"\n{packages}\n",
        token_db=db,
        authenticate="update, list",
        disable_fallback="true",
        ownership="open",
        allow_token_delete="no",
    )

    assert call(app, "GET", "/simple/").startswith("401")
    assert call(app, "GET", "/simple/", basic("__token__", token)) == "200 OK"


def test_one_service_per_process() -> None:
    opened: list[object] = []
    per_process = app_module._PerProcess(lambda: opened.append(object()) or opened[-1])

    first = per_process()
    assert per_process() is first
    read, write = os.pipe()
    pid = os.fork()  # as gunicorn forks a worker after building the app
    if pid == 0:
        try:
            fresh = per_process() is not first and len(opened) == 2
            os.write(write, b"fresh" if fresh else b"inherited")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as answer:
        assert answer.read() == b"fresh"
    assert per_process() is first
    assert len(opened) == 1


def test_cli_help_lists_the_token_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "--help"])

    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--token-db", "--ownership", "--allow-token-delete", "--passwords"):
        assert option in out


def test_cli_bad_store_fails_at_start_without_its_password(tmp_path: Path) -> None:
    original = RunConfig.get_auther
    # A directory is not an SQLite database: the store cannot be opened.
    bad = f"sqlite:///{tmp_path}"
    with pytest.raises(SystemExit) as exit_:
        cli_main(["run", "-p", "0", "--token-db", bad, str(tmp_path)])

    assert "cannot open the token store" in str(exit_.value.code)
    assert RunConfig.get_auther is original


# -- claims: only a stored file makes its uploader the owner ----------------------------


def owner_of(db: str, project: str) -> list[tuple[str, str]] | None:
    service = TokenService.from_url(db)
    try:
        record = service.store.get_project(project)
        return None if record is None else service.store.list_roles(record.id)
    finally:
        service.close()


def test_make_app_claims_a_project_only_when_its_file_is_stored(store, tmp_path: Path) -> None:
    db, token, packages = store
    app = make_app(roots=[packages], token_db=db, disable_fallback=True)
    auth = basic("__token__", token)
    wheel = make_wheel(tmp_path, "claimed", "1.0")

    assert call(app, "POST", "/", auth, *form_body({":action": "submit", "name": "claimed"})) == (
        "200 OK"
    )
    assert owner_of(db, "claimed") is None
    assert call(app, "POST", "/", auth, *upload_body(wheel, "claimed")) == "200 OK"
    assert owner_of(db, "claimed") == [("ulla", "Owner")]


def test_paste_factory_adopts_unowned_projects(store, tmp_path: Path) -> None:
    db, token, packages = store
    make_sdist(packages, "old.pkg", "1.0")
    service = TokenService.from_url(db)
    try:
        service.add_user("ada")
    finally:
        service.close()

    app = paste_app_factory(
        {}, roots=str(packages), token_db=db, adopt_unowned="ada", disable_fallback="true"
    )

    assert owner_of(db, "old-pkg") == [("ada", "Owner")]
    newer = upload_body(make_sdist(tmp_path, "old.pkg", "1.1"), "old.pkg")
    status = call(app, "POST", "/", basic("__token__", token), *newer)
    assert status == "403 Invalid API Token: user ulla may not upload to project 'old-pkg'"


def storage(packages: Path, service: Any, checked: bool = True) -> OwnedStorage:
    config = pypiserver.Config.default_with_overrides(roots=[packages])
    return OwnedStorage(config.backend, lambda: service, checked=checked)


def test_storage_refuses_a_file_the_auther_did_not_check(tmp_path: Path) -> None:
    request.bind({"REQUEST_METHOD": "POST", "PATH_INFO": "/"})
    with pytest.raises(HTTPError) as caught:
        storage(tmp_path, FakeService()).add_package("x-1.0.tar.gz", io.BytesIO(b"x"))
    assert caught.value.status_line == "403 Forbidden: this upload was not checked"
    assert not (tmp_path / "x-1.0.tar.gz").exists()

    # Uploads pypiserver does not authenticate (no `update` in -a) pass as they are.
    storage(tmp_path, FakeService(), checked=False).add_package("x-1.0.tar.gz", io.BytesIO(b"x"))
    assert (tmp_path / "x-1.0.tar.gz").read_bytes() == b"x"


def test_storage_refuses_a_file_of_another_project(tmp_path: Path) -> None:
    request.bind(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            UPLOADER_KEY: Uploader(Identity("ulla", "id", "tok"), "mine"),
        }
    )
    with pytest.raises(HTTPError) as caught:
        storage(tmp_path, FakeService()).add_package("other-1.0.tar.gz", io.BytesIO(b"x"))
    assert "is not of the checked project" in caught.value.status_line
    assert list(tmp_path.iterdir()) == []


class BrokenClaims:
    def claim_upload(self, *args: Any, **kwargs: Any) -> None:
        raise StoreError(f"database down while holding {TOKEN}")


def test_storage_answers_403_when_the_store_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    request.bind(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            UPLOADER_KEY: Uploader(Identity("ulla", "id", None), "mine"),
        }
    )
    caplog.set_level(logging.ERROR, logger="pypitoken_pypiserver")
    with pytest.raises(HTTPError) as caught:
        storage(tmp_path, BrokenClaims()).add_package("mine-1.0.tar.gz", io.BytesIO(b"x"))
    assert caught.value.status_line == "403 Forbidden: the server could not check this upload"
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("password_user", [False, True])
def test_a_body_cut_short_is_refused_before_anything_is_stored(
    store, tmp_path: Path, password_user: bool
) -> None:
    db, token, packages = store
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("ulla:{SHA}" + "W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")  # password "password"
    app = make_app(
        roots=[packages], token_db=db, disable_fallback=True, password_file=str(htpasswd)
    )
    auth = basic("ulla", "password") if password_user else basic("__token__", token)
    body, ctype = upload_body(make_wheel(tmp_path, "cut.short", "1.0"), "cut.short")

    sent = len(body) - 100

    status = call(app, "POST", "/", auth, body, ctype, sent=sent)

    assert status == f"403 Forbidden: the request ended after {sent} of its {len(body)} bytes"
    assert list(packages.iterdir()) == []
    assert owner_of(db, "cut-short") is None
    assert call(app, "POST", "/", auth, body, ctype) == "200 OK"
    assert owner_of(db, "cut-short") == [("ulla", "Owner")]


class FailingStream(io.BytesIO):
    """A request file whose read fails after ``good`` bytes (an I/O error mid-write)."""

    def __init__(self, good: bytes) -> None:
        super().__init__(good)
        self.done = False

    def read(self, size: int | None = -1) -> bytes:
        if self.done:
            raise OSError("read error")
        self.done = True
        return super().read(size)


def test_storage_follows_what_a_failed_write_left_on_disk(store, tmp_path: Path) -> None:
    """pypiserver writes in place: a write that fails midway leaves a partial file it serves.

    The claim follows the disk: kept while a file of the project is there, given back
    when the failed write left nothing.
    """
    db, token, packages = store
    service = TokenService.from_url(db)
    try:
        ulla = service.authenticate(token, Context("partial", action="upload"))
        owned = storage(packages, service)
        request.bind(
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/", UPLOADER_KEY: Uploader(ulla, "partial")}
        )

        with pytest.raises(OSError, match="read error"):
            owned.add_package("partial-1.0.tar.gz", FailingStream(b"half a file"))

        assert (packages / "partial-1.0.tar.gz").read_bytes() == b"half a file"
        assert owner_of(db, "partial") == [("ulla", "Owner")]

        (packages / "gone-1.0.tar.gz").mkdir()
        request.bind(
            {"REQUEST_METHOD": "POST", "PATH_INFO": "/", UPLOADER_KEY: Uploader(ulla, "gone")}
        )
        with pytest.raises(IsADirectoryError, match="Is a directory"):
            owned.add_package("gone-1.0.tar.gz", io.BytesIO(b"x"))
        assert owner_of(db, "gone") is None
        assert service.store.list_events(1)[0].event == "claim_released"
    finally:
        service.close()
