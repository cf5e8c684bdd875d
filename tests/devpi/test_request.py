"""How the devpi plugin reads a request, in-process, with real webob requests.

``read_index_write`` must read a POST/PUSH to ``/{user}/{index}/`` exactly as devpi's
``pushrelease``/``submit`` do (same accessors, same dispatch) or refuse it. The tables pin
the readings and every refusal reason; the property test checks, over generated request
shapes, that whatever the plugin accepts it reads as devpi's own expressions do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from urllib.parse import urlencode

import pytest
from devpi_common.validation import normalize_name
from devpi_server.normalized import normalize_name as devpi_normalize
from hypothesis import given
from hypothesis import strategies as st
from pypitoken_devpi._request import (
    MAX_PUSH_BODY,
    IndexWrite,
    Unreadable,
    extract_token,
    is_index_write,
    method_action,
    read_authcheck,
    read_index_write,
    request_project,
)
from pyramid.urldispatch import Route
from webob import Request

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "b0undary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
JSON = "application/json"
#: devpi-server 6.20's patterns (devpi_server/main.py), as real pyramid routes.
ROUTES = {
    "/{user}/{index}/": "/{user:[^+/]+}/{index:[^+/]+}/",
    "/{user}/{index}": "/{user:[^+/]+}/{index:[^+/]+}",
    "/{user}/{index}/{project}": "/{user:[^+/]+}/{index:[^+/]+}/{project:[^+/]+/?}",
    "/{user}/{index}/{project}/{version}": (
        "/{user:[^+/]+}/{index:[^+/]+}/{project:[^+/]+}/{version:[^/]+/?}"
    ),
    "/{user}/{index}/+simple/{project}/refresh": (
        "/{user:[^+/]+}/{index:[^+/]+}/+simple/{project:[^+/]+}/refresh"
    ),
}


def make(
    body: bytes,
    content_type: str | None = JSON,
    method: str = "POST",
    route: str = "/{user}/{index}/",
    path: str = "/alice/dev/",
    headers: dict[str, str] | None = None,
) -> Request:
    """A real webob request as waitress hands it to devpi, routed like devpi routes it."""
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    request = Request.blank(path, method=method, headers=all_headers)
    request.body = body
    pyramid_route = Route(route, ROUTES[route])
    request.matched_route = pyramid_route
    request.matchdict = pyramid_route.match(request.path_info)
    return request


def urlenc(*pairs: tuple[str, str]) -> bytes:
    return urlencode(pairs).encode()


def multipart(*fields: tuple[str, str | bytes], files: Sequence[str] = ()) -> bytes:
    """A multipart body; fields named in ``files`` are sent as file parts."""
    parts = []
    for name, value in fields:
        data = value if isinstance(value, bytes) else value.encode()
        filename = f'; filename="{name}.bin"' if name in files else ""
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{filename}\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def push(**fields: object) -> bytes:
    return json.dumps({"version": "1.0", **fields}).encode()


# -- what is read, and how ----------------------------------------------------------------

ACCEPTED = [
    pytest.param(
        make(
            multipart(
                (":action", "file_upload"),
                ("name", "Mine"),
                ("version", "1.0"),
                ("content", b"PK"),
                ("gpg_signature", b"sig"),
                files=["content", "gpg_signature"],
            ),
            MULTIPART,
        ),
        IndexWrite("submit", "mine", version="1.0", action="file_upload", filename="content.bin"),
        id="twine-multipart",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "Mine_Pkg.x")), FORM),
        IndexWrite("submit", "mine-pkg-x", action="submit"),
        id="register-urlencoded",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "mine"), ("name", "mine")), FORM),
        IndexWrite("submit", "mine", action="submit"),
        id="repeated-name-that-agrees",
    ),
    pytest.param(
        make(
            urlenc((":action", "doc_upload"), ("name", "mine"), ("version", "1.0")),
            f"{FORM}; charset=UTF8",
        ),
        IndexWrite("submit", "mine", version="1.0", action="doc_upload"),
        id="utf8-spelled-differently",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "mine"), ("description", "x" * 70_000)), FORM),
        IndexWrite("submit", "mine", action="submit"),
        id="large-form",
    ),
    pytest.param(
        make(push(name="mine", targetindex="alice/prod")),
        IndexWrite("push", "mine", target="alice/prod", version="1.0"),
        id="internal-push",
    ),
    pytest.param(
        make(push(name="mine", targetindex="alice/prod"), method="PUSH"),
        IndexWrite("push", "mine", target="alice/prod", version="1.0"),
        id="push-method",
    ),
    pytest.param(
        make(push(name="mine", posturl="https://pypi.example/", username="u", password="p")),
        IndexWrite("push", "mine", posturl="https://pypi.example/", version="1.0"),
        id="external-push",
    ),
    pytest.param(
        make(push(name="mine", targetindex=None, posturl="https://x/", username="u", password="p")),
        IndexWrite("push", "mine", posturl="https://x/", version="1.0"),
        id="null-targetindex-is-external",
    ),
    pytest.param(
        make(push(name="mine", targetindex="alice/prod", posturl="https://x/")),
        IndexWrite("push", "mine", target="alice/prod", version="1.0"),
        id="targetindex-wins-over-posturl",
    ),
    pytest.param(
        make(push(name="mine", targetindex="alice/prod"), "Application/JSON; charset=utf-8"),
        IndexWrite("push", "mine", target="alice/prod", version="1.0"),
        id="json-type-any-case",
    ),
    pytest.param(
        # devpi turns every run of non-alphanumerics into '-' (PEP 503 only -_.), and the
        # Kelvin sign is not ASCII: devpi acts on '-ey', so that is the project checked.
        make(push(name="\u212aey", targetindex="alice/prod")),
        IndexWrite("push", "-ey", target="alice/prod", version="1.0"),
        id="devpi-normalisation",
    ),
]


@pytest.mark.parametrize(("request_", "expected"), ACCEPTED)
def test_reads_what_devpi_reads(request_: Request, expected: IndexWrite) -> None:
    assert read_index_write(request_) == expected


REFUSED = [
    # the reproductions
    pytest.param(
        make(
            b'{"name":"victim","version":"1.0","targetindex":"alice/r-prod",'
            b'"no_docs":"&:action=&name=mine&"}',
            FORM,
        ),
        "the body is both a form and JSON",
        id="A-urlencoded-json-empty-action",
    ),
    pytest.param(
        make(b'{"name":"mine","x":"&:action=submit&name=victim&version=1.0&summary=PWNED&"}', None),
        "a request to an index needs a Content-Type",
        id="B-no-content-type",
    ),
    pytest.param(
        make(
            b'{"name":"mine","version":"2.0","targetindex":"alice/r-prod","no_docs":'
            b'"+ACIALAAiAG4AYQBtAGUAIgA6ACIAdgBpAGMAdABpAG0-"}',
            f"{JSON}; charset=utf-7",
        ),
        "must be UTF-8, not charset 'utf-7'",
        id="C-utf7",
    ),
    # content types and charsets
    pytest.param(make(push(name="mine"), ""), "needs a Content-Type", id="empty-type"),
    pytest.param(
        make(push(name="mine"), "; charset=utf-8"), "needs a Content-Type", id="only-a-charset"
    ),
    pytest.param(
        make(push(name="mine"), None, method="PUSH"),
        "needs a Content-Type",
        id="push-method-no-type",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "mine")), f"{FORM}; charset=latin-1"),
        "not charset 'latin-1'",
        id="latin1-form",
    ),
    pytest.param(
        make(push(name="mine").decode().encode("utf-16"), f"{JSON}; charset=utf-16"),
        "not charset 'utf-16'",
        id="utf16-json",
    ),
    pytest.param(
        make(push(name="mine"), f'{JSON}; charset="utf-7"'),
        "not charset 'utf-7'",
        id="quoted-charset",
    ),
    pytest.param(
        make(push(name="mine", targetindex="a/b"), "text/plain"),
        "a push must be sent as application/json",
        id="push-as-text",
    ),
    pytest.param(
        make(urlenc(("name", "mine")), FORM),
        "an upload form needs ':action'",
        id="form-without-action",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "mine")), f"{FORM} "),
        "a push must be sent as application/json",
        id="form-type-webob-ignores",
    ),
    # a form and JSON at once, submit side
    pytest.param(
        make(b'{"name":"mine","x":"&:action=submit&name=victim&"}', FORM),
        "the body is both a form and JSON",
        id="B-with-form-type",
    ),
    pytest.param(
        make(b'{"x":"' + b"y" * 70_000 + b'","z":"&:action=submit&name=mine&"}', FORM),
        "the body is both a form and JSON",
        id="large-form-that-starts-like-json",
    ),
    pytest.param(
        make(b"[" * 3000 + b"&:action=submit&name=mine", FORM),
        "the body is both a form and JSON",
        id="form-nested-too-deep-to-tell",
    ),
    # repeated identifying fields
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "mine"), ("name", "victim")), FORM),
        "'name' more than once",
        id="name-twice",
    ),
    pytest.param(
        make(urlenc((":action", ""), (":action", "submit"), ("name", "mine")), FORM),
        "':action' more than once",
        id="action-empty-then-submit",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), (":action", ""), ("name", "mine")), FORM),
        "':action' more than once",
        id="action-submit-then-empty",
    ),
    pytest.param(
        make(
            multipart((":action", "file_upload"), ("name", "mine"), ("name", "victim")), MULTIPART
        ),
        "'name' more than once",
        id="multipart-name-twice",
    ),
    pytest.param(
        make(b'{"name":"mine","name":"victim","targetindex":"a/b"}'),
        "gives 'name' more than once",
        id="json-name-twice",
    ),
    pytest.param(
        make(b'{"name":"mine","targetindex":"a/b","targetindex":"a/c"}'),
        "gives 'targetindex' more than once",
        id="json-targetindex-twice",
    ),
    pytest.param(
        make(b'{"name":"mine","posturl":"http://a/","posturl":"http://b/"}'),
        "gives 'posturl' more than once",
        id="json-posturl-twice",
    ),
    # fields that are not what devpi expects
    pytest.param(
        make(multipart((":action", "file_upload"), ("name", "mine"), files=["name"]), MULTIPART),
        "'name' must be text",
        id="name-as-file",
    ),
    pytest.param(
        make(multipart((":action", "submit"), ("name", "mine"), files=[":action"]), MULTIPART),
        "':action' must be text",
        id="action-as-file",
    ),
    pytest.param(
        make(
            urlenc(
                (":action", "submit"),
            ),
            FORM,
        ),
        "names no project",
        id="no-name",
    ),
    pytest.param(
        make(urlenc((":action", "submit"), ("name", "")), FORM), "names no project", id="empty-name"
    ),
    pytest.param(make(b'["mine"]'), "must be a JSON object", id="json-list"),
    pytest.param(
        make(push(name=["victim"], targetindex="a/b")), "names no project", id="json-name-not-text"
    ),
    pytest.param(make(push(targetindex="a/b")), "names no project", id="json-no-name"),
    pytest.param(
        make(b'{"name":"mine","targetindex":"a/b"}'), "names no version", id="json-no-version"
    ),
    pytest.param(
        make(push(name="mine", version=1, targetindex="a/b")),
        "names no version",
        id="json-version-not-text",
    ),
    pytest.param(
        make(push(name="mine", targetindex=["a/b"])),
        "'targetindex' must be a string",
        id="json-targetindex-not-text",
    ),
    pytest.param(make(push(name="mine")), "needs 'targetindex' or 'posturl'", id="no-target"),
    pytest.param(make(b"[" * 20_000), "not valid JSON", id="json-nested-deep"),
    pytest.param(make(b'{"name":"\xff"}'), "not valid JSON", id="json-not-utf8"),
    pytest.param(
        make(push(name="mine", targetindex="a/b", pad="x" * MAX_PUSH_BODY)),
        f"must not exceed {MAX_PUSH_BODY} bytes",
        id="json-too-large",
    ),
    # shapes devpi itself answers with a 500 (issue 8, red team round 2: H4)
    pytest.param(
        make(
            multipart(
                (":action", "file_upload"), ("name", "mine"), ("content", b"PK"), files=["content"]
            ),
            MULTIPART,
        ),
        "file_upload needs the form field 'version'",
        id="file-upload-without-version",
    ),
    pytest.param(
        make(
            multipart(
                (":action", "file_upload"),
                ("name", "mine"),
                ("version", "1.0"),
                ("content", b"PK"),
                files=["content"],
            ).replace(b'filename="content.bin"', b'filename=""'),
            MULTIPART,
        ),
        "the form field 'content' must be a file with a name",
        id="file-without-a-name",
    ),
    pytest.param(
        make(
            multipart(
                (":action", "file_upload"), ("name", "mine"), ("version", "1.0"), ("content", "PK")
            ),
            MULTIPART,
        ),
        "the form field 'content' must be a file with a name",
        id="content-as-text",
    ),
    pytest.param(
        make(
            multipart(
                (":action", "file_upload"),
                ("name", "mine"),
                ("version", "1.0"),
                ("content", b"PK"),
                ("content", b"PK2"),
                files=["content"],
            ),
            MULTIPART,
        ),
        "the form gives 'content' more than once",
        id="content-twice",
    ),
    pytest.param(
        make(
            multipart(
                (":action", "submit"),
                ("name", "mine"),
                ("version", "1.0"),
                ("summary", "x"),
                files=["summary"],
            ),
            MULTIPART,
        ),
        "the form field 'summary' must be text, not a file",
        id="metadata-field-as-file",
    ),
    pytest.param(
        make(
            multipart(
                (":action", "submit"), ("name", "mine"), ("classifiers", "x"), files=["classifiers"]
            ),
            MULTIPART,
        ),
        "the form field 'classifiers' must be text, not a file",
        id="list-field-as-file",
    ),
    pytest.param(
        make(push(name="mine", posturl="http://127.0.0.1:9/", username="u")),
        "an external push needs 'username' and 'password'",
        id="external-push-without-password",
    ),
    pytest.param(
        make(push(name="mine", posturl="http://127.0.0.1:9/", username="u", password=None)),
        "an external push needs 'username' and 'password'",
        id="external-push-null-password",
    ),
    pytest.param(
        make(push(name="mine", posturl="", username="u", password="p")),
        "an external push needs an http(s) URL in 'posturl'",
        id="empty-posturl",
    ),
    pytest.param(
        make(push(name="mine", posturl="file:///etc/passwd", username="u", password="p")),
        "an external push needs an http(s) URL in 'posturl'",
        id="file-posturl",
    ),
    pytest.param(
        make(push(name="mine", posturl="http://[::1", username="u", password="p")),
        "an external push needs an http(s) URL in 'posturl'",
        id="posturl-not-a-url",
    ),
    pytest.param(
        make(push(name="mine", posturl="http:///nohost", username="u", password="p")),
        "an external push needs an http(s) URL in 'posturl'",
        id="posturl-without-host",
    ),
    pytest.param(
        make(
            multipart((":action", "submit"), ("name", "mine")).replace(
                b'name="name"', b'name="name"\r\nContent-Type: text/plain; charset=no-such-codec'
            ),
            MULTIPART,
        ),
        "the form could not be read (LookupError)",
        id="multipart-unknown-part-charset",
    ),
]


@pytest.mark.parametrize(("request_", "reason"), REFUSED)
def test_refuses_what_could_be_read_two_ways(request_: Request, reason: str) -> None:
    with pytest.raises(Unreadable, match=re.escape(reason)):
        read_index_write(request_)


def test_the_reading_is_kept_for_every_stage_check() -> None:
    request = make(push(name="mine", targetindex="alice/prod"))
    first = read_index_write(request)
    request.body = push(name="victim", targetindex="alice/prod")  # not what a server does
    assert read_index_write(request) is first
    refused = make(b"[" * 20_000)
    with pytest.raises(Unreadable, match="not valid JSON"):
        read_index_write(refused)
    refused.body = push(name="mine", targetindex="alice/prod")
    with pytest.raises(Unreadable, match="not valid JSON"):
        read_index_write(refused)


def test_devpi_reads_the_body_after_the_plugin() -> None:
    """Reading the body for the plugin leaves it whole for devpi's own accessors."""
    body = multipart(
        (":action", "file_upload"),
        ("name", "mine"),
        ("version", "1.0"),
        ("content", b"\x00PK" * 500),
        files=["content"],
    )
    request = make(body, MULTIPART)
    assert read_index_write(request) == IndexWrite(
        "submit", "mine", action="file_upload", version="1.0", filename="content.bin"
    )
    assert request.POST["content"].file.read() == b"\x00PK" * 500
    assert request.body == body
    pushed = make(push(name="mine", targetindex="alice/prod"))
    read_index_write(pushed)
    assert pushed.json_body["name"] == "mine"


@pytest.mark.parametrize(
    ("uri", "readable"),
    [
        ("http://[::1", False),
        ("/alice/dev/+f/%ff%fe", False),
        ("/alice/dev/+simple/mine/", True),
        ("http://devpi.example/alice/dev/+f/a/b/mine-1.0.tar.gz", True),
        ("/alice/dev/+f/%00", True),
    ],
)
def test_authcheck_uris_are_read_as_devpi_reads_them(uri: str, readable: bool) -> None:
    request = Request.blank("/+authcheck", headers={"X-Original-URI": uri})
    if readable:
        read_authcheck(request)
        Request.blank(uri).path_info  # noqa: B018 (devpi's own reading succeeds too)
    else:
        with pytest.raises(Unreadable, match="the X-Original-URI header is not a URL devpi"):
            read_authcheck(request)
        with pytest.raises(ValueError):  # what devpi's authcheck_view would raise: a 500
            Request.blank(uri).path_info  # noqa: B018


# -- the route and the project -----------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "path", "method", "expected"),
    [
        ("/{user}/{index}/", "/alice/dev/", "POST", True),
        ("/{user}/{index}", "/alice/dev", "PUSH", True),
        ("/{user}/{index}/", "/alice/dev/", "GET", False),
        ("/{user}/{index}/", "/alice/dev/", "PUT", False),
        ("/{user}/{index}/{project}", "/alice/dev/mine", "POST", False),
    ],
)
def test_is_index_write(route: str, path: str, method: str, expected: bool) -> None:
    assert is_index_write(make(b"", JSON, method, route, path)) is expected


@pytest.mark.parametrize(
    ("route", "path", "method", "expected"),
    [
        ("/{user}/{index}/{project}", "/alice/dev/Mine_Pkg", "DELETE", "mine-pkg"),
        ("/{user}/{index}/{project}", "/alice/dev/mine/", "DELETE", "mine"),
        ("/{user}/{index}/{project}/{version}", "/alice/dev/Victim/1.0", "DELETE", "victim"),
        ("/{user}/{index}/{project}", "/alice/dev/%E2%84%AAey", "DELETE", "-ey"),
        (
            "/{user}/{index}/+simple/{project}/refresh",
            "/alice/dev/+simple/a.b/refresh",
            "POST",
            "a-b",
        ),
        ("/{user}/{index}/", "/alice/dev/", "GET", None),
    ],
)
def test_route_projects_are_normalised_as_devpi_does(route, path, method, expected) -> None:
    assert request_project(make(b"", JSON, method, route, path), xom=None) == expected


def test_index_write_project_comes_from_the_body() -> None:
    request = make(push(name="Victim", targetindex="alice/prod"))
    assert request_project(request, xom=None) == "victim"
    with pytest.raises(Unreadable, match="needs a Content-Type"):
        request_project(make(push(name="mine"), None), xom=None)


# -- credentials and actions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "authorization", "expected"),
    [
        (("__token__", "pypi-abc"), None, ("pypi-abc", None)),
        (("", "pypi-abc"), None, ("pypi-abc", None)),
        (("pypi-abc", ""), None, ("pypi-abc", None)),
        (("alice", "pypi-abc"), None, ("pypi-abc", "alice")),
        (None, "Bearer pypi-abc", ("pypi-abc", None)),
        (None, "bearer  pypi-abc ", ("pypi-abc", None)),
        (("alice", "alicepw"), None, None),
        (("alice", ""), None, None),
        (None, "Bearer devpi-abc", None),
        (None, None, None),
        (("__token__", "devpi-abc"), None, None),
    ],
)
def test_extract_token(credentials, authorization, expected) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    request = make(b"", JSON, headers=headers)
    assert extract_token(request, credentials, "pypi") == expected


@pytest.mark.parametrize(
    ("method", "action"),
    [
        ("GET", "download"),
        ("HEAD", "download"),
        ("POST", "upload"),
        ("PUSH", "upload"),
        ("PUT", "upload"),
        ("PATCH", "upload"),
        ("DELETE", "delete"),
    ],
)
def test_method_action(method: str, action: str) -> None:
    assert method_action(method) == action


# -- generated shapes: accepted means read as devpi reads --------------------------------

NAMES = st.sampled_from(["mine", "victim", "Mine.Pkg", "", "\u212aey", "a b"])
ACTIONS = st.sampled_from(["", "submit", "file_upload", "doc_upload"])
FIELDS = st.builds(
    lambda actions, names, extra: actions + names + extra,
    st.lists(st.tuples(st.just(":action"), ACTIONS), min_size=1, max_size=2),
    st.lists(st.tuples(st.just("name"), NAMES), min_size=1, max_size=2),
    st.lists(st.tuples(st.sampled_from(["version", "x", '{"name"']), NAMES), max_size=2),
).flatmap(st.permutations)
JSON_OBJECTS = st.fixed_dictionaries(
    {"name": st.one_of(NAMES, NAMES, st.integers())},
    optional={
        "version": st.just("1.0"),
        "targetindex": st.one_of(st.just("alice/prod"), st.none(), st.integers()),
        "posturl": st.just("http://x/"),
        "x": st.just("&:action=submit&name=victim&"),
    },
)
ANY_TYPE = st.sampled_from(
    [
        None,
        "",
        FORM,
        MULTIPART,
        "multipart/form-data",
        JSON,
        "Application/JSON",
        "text/plain",
        f"{FORM} ",
    ]
)
#: The content type a client would send for each kind of body.
NATURAL_TYPE = {"urlencoded": FORM, "multipart": MULTIPART, "json": JSON, "polyglot": JSON}


@st.composite
def shapes(draw: st.DrawFn) -> tuple[bytes, str | None, str]:
    """A body of some kind, with its natural or another content type, charset, method."""
    kind = draw(st.sampled_from(["urlencoded", "multipart", "json", "polyglot", "raw"]))
    if kind == "urlencoded":
        body = urlencode(draw(FIELDS)).encode()
    elif kind == "multipart":
        body = multipart(*draw(FIELDS))
    elif kind == "json":
        body = json.dumps(draw(JSON_OBJECTS)).encode()
    elif kind == "polyglot":
        obj = draw(JSON_OBJECTS)
        obj["x"] = "&" + urlencode(draw(FIELDS)) + "&"
        body = json.dumps(obj).encode()
    else:
        body = draw(st.binary(max_size=200))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-7", "utf-16", "latin-1"]))
    if encoding != "utf-8":
        body = body.decode("utf-8", "replace").encode(encoding, "replace")
    base = draw(st.one_of(st.just(NATURAL_TYPE.get(kind)), ANY_TYPE))
    charset = draw(
        st.sampled_from(
            [None, None, None, "utf-8", "UTF8", "utf-7", "latin-1", "utf-16", "no-such-codec"]
        )
    )
    content_type = base if charset is None or base is None else f"{base}; charset={charset}"
    return body, content_type, draw(st.sampled_from(["POST", "PUSH"]))


@given(shapes())
def test_generated_shapes_are_read_as_devpi_reads_them(shape) -> None:
    body, content_type, method = shape
    try:
        write = read_index_write(make(body, content_type, method))
    except Unreadable:
        return
    # devpi's own expressions (views.py: pushrelease, submit), on a fresh request
    devpi = make(body, content_type, method)
    if devpi.POST.get(":action"):
        assert (write.kind, write.project) == ("submit", devpi_normalize(devpi.POST["name"]))
        assert (write.action, write.version) == (
            devpi.POST[":action"],
            devpi.POST.get("version") or None,
        )
        return
    pushdata = devpi.json_body
    target = pushdata.pop("targetindex", None)
    assert write.kind == "push"
    assert write.project == devpi_normalize(pushdata.pop("name"))
    assert write.target == target
    assert write.external is (target is None)
    if target is None:
        assert write.posturl == pushdata["posturl"]


@given(st.text(max_size=30))
def test_normalisation_is_devpis(name: str) -> None:
    assert normalize_name(name) == devpi_normalize(name)
