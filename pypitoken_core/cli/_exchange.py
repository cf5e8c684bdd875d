"""``pypitoken oidc-exchange URL``: in a CI job, trade its OIDC token for an upload token.

For clients that do not do trusted publishing against a private index themselves (twine
does it for pypi.org only): the command asks the index for its audience, gets the job's
OIDC token for it (GitHub Actions: the ``ACTIONS_ID_TOKEN_REQUEST_*`` variables the job
has with ``permissions: id-token: write``; GitLab CI: the ``<AUDIENCE>_ID_TOKEN`` variable
the job declares under ``id_tokens``), exchanges it at ``/_/oidc/mint-token`` and prints
the upload token, for ``twine upload -u __token__ -p "$(pypitoken oidc-exchange URL)"``.
pypa/gh-action-pypi-publish does the same before it runs twine.

The requests use the upload URL's scheme and host (so a test index on plain http works);
nothing but the printed token goes to standard output.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

from ..oidc import gitlab_token_variable
from ._common import fail

__all__ = ["oidc_exchange"]

_TIMEOUT = 30
_MAX_ANSWER = 1024 * 1024


def _request(url: str, body: dict[str, Any] | None = None, bearer: str | None = None) -> Any:
    """GET (or POST ``body`` as JSON) ``url``; its JSON answer, or exit 1 saying why."""
    data = None if body is None else json.dumps(body).encode()
    # The caller checked the scheme: http or https only.
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if bearer is not None:
        request.add_header("Authorization", f"bearer {bearer}")
    context = ssl.create_default_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT, context=context) as response:  # noqa: S310
            raw = response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        fail(f"{url} answered {exc.code}{_reasons(exc.read(_MAX_ANSWER))}")
    except (OSError, ValueError) as exc:
        fail(f"cannot reach {url}: {exc}")
    try:
        return json.loads(raw)
    except ValueError:
        fail(f"{url} did not answer JSON")


def _reasons(raw: bytes) -> str:
    """The ``errors`` of a refusal, as twine prints them."""
    try:
        errors = json.loads(raw).get("errors") or []
        return "".join(f"\n* {e['code']}: {e['description']}" for e in errors)
    except (ValueError, AttributeError, TypeError, KeyError):
        return ""


def _ci_token(audience: str) -> str:
    """The job's OIDC token for ``audience``: GitHub Actions, then GitLab CI."""
    url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    bearer = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if url and bearer:
        parts = urllib.parse.urlsplit(url)
        query = [*urllib.parse.parse_qsl(parts.query), ("audience", audience)]
        answer = _request(
            parts._replace(query=urllib.parse.urlencode(query)).geturl(), None, bearer
        )
        value = answer.get("value") if isinstance(answer, dict) else None
        if not isinstance(value, str):
            fail("GitHub Actions answered no OIDC token")
        return value
    variable = gitlab_token_variable(audience)
    value = os.environ.get(variable)
    if value:
        return value
    fail(
        "no OIDC token in this job: on GitHub Actions give the job `permissions: id-token:"
        f" write`; on GitLab CI declare `id_tokens: {variable}: aud: {audience}`"
    )


@click.command("oidc-exchange")
@click.argument("url", metavar="UPLOAD_URL")
def oidc_exchange(url: str) -> None:
    """In a CI job, exchange its OIDC token for an upload token of the index at UPLOAD_URL.

    Prints the token (and nothing else), for `twine upload -u __token__ -p "$(...)"`.
    The index must trust the job as a trusted publisher (`pypitoken publisher add`).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fail(f"{url!r} is not an http(s) URL")
    base = f"{parts.scheme}://{parts.netloc}"
    answer = _request(f"{base}/_/oidc/audience")
    audience = answer.get("audience") if isinstance(answer, dict) else None
    if not isinstance(audience, str):
        fail(f"{base} has no trusted publishing audience")
    minted = _request(f"{base}/_/oidc/mint-token", {"token": _ci_token(audience)})
    token = minted.get("token") if isinstance(minted, dict) else None
    if not isinstance(token, str):
        fail(f"{base} answered no token")
    click.echo(token)
