"""The body of a token refusal carries the reason too, not only the status line.

devpi-client prints the ``message`` of a JSON error body, browsers the HTML page: both
must say why, as the status line does.
"""

from __future__ import annotations

from .conftest import App

# The service's words, as on pypiserver (one set of messages).
REASON = (
    "Invalid API Token: malformed token (Deserialization error: trailing data after the signature)"
)


def test_the_refusal_says_why_in_json_and_in_html(app: App) -> None:
    _, token = app.mint()
    bad = ("__token__", token + "x")

    as_json = app.request("GET", "/+api", auth=bad)
    assert as_json.status == f"403 {REASON}"
    assert as_json.json["message"].strip() == REASON
    as_html = app.request("GET", "/+api", auth=bad, headers={"Accept": "*/*"})
    assert as_html.status == f"403 {REASON}"
    assert f"{REASON}<br/>" in as_html.text
    # The positive control: the token itself is accepted.
    assert app.request("GET", "/+api", auth=("__token__", token)).status_int == 200
