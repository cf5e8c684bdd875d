"""Fuzzing: valid tokens mutated byte by byte; only the documented exceptions escape.

Seeds are tokens as we, pypitoken, pypi.org (compact JSON, tag 4, legacy objects) and
v1 writers produce them. Hypothesis mutates the binary macaroon (replace, insert, delete,
truncate, duplicate) or the token string itself, then ``load``, ``restrictions``,
``check`` (several contexts, right and wrong key), ``dump`` and ``repr`` run on the result,
and each may raise only what the API documents for it (a LoaderError, a ValidationError).
Whatever loads must round-trip: ``load(dump(token))`` is the same token, with the same
restrictions and the same verdicts. A mutant that still passes ``check`` must carry the
same signed content as its seed.

For a longer run: ``HYPOTHESIS_PROFILE=thorough pytest tests/property/test_fuzz.py``, or,
with atheris installed, ``python tests/property/test_fuzz.py`` (coverage-guided).
"""

from __future__ import annotations

import json
import sys

import pymacaroons
from hypothesis import given
from hypothesis import strategies as st

from pypitoken_core import LoaderError, Restriction, Token, ValidationError
from pypitoken_core import _macaroon as m

KEY = b"fuzz-key"
NOW = 1_700_000_000
PASSING = {
    "project_name": "foo",
    "project_id": "p1",
    "user_id": "u1",
    "now": NOW,
    "action": "upload",
    "index": "root/dev",
    "oidc_publisher_id": "pub",
}


def _pymacaroons_token(caveats: list[str], *, version: int = 2) -> str:
    mac = pymacaroons.Macaroon(location="pypi.org", identifier="id-1", key=KEY, version=version)
    for caveat in caveats:
        mac.add_first_party_caveat(caveat)
    return "pypi-" + mac.serialize()


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


SEEDS = [
    Token.create("pypi.org", "id-1", KEY).dump(),
    Token.create("pypi.org", "id-1", KEY)
    .restrict(
        not_before=NOW - 1,
        not_after=NOW + 1,
        project_names=["foo"],
        project_ids=["p1"],
        user_id="u1",
        legacy_noop=True,
        legacy_project_names=["foo"],
        legacy_not_before=NOW - 1,
        legacy_not_after=NOW + 1,
        actions=["upload"],
        indexes=["root/dev"],
    )
    .dump(),
    _pymacaroons_token(
        [
            _compact([4, "pub", None]),
            _compact([2, ["p1"]]),
            _compact([0, NOW + 900, NOW]),
            _compact([1, ["foo"]]),
            _compact([3, "u1"]),
            _compact({"project_ids": ["p1"]}),
            _compact({"version": 1, "permissions": "user"}),
        ]
    ),
    _pymacaroons_token([_compact([1, ["foo"]])], version=1),
    _pymacaroons_token([_compact([2, ["x" * 300, "p1"]])]),  # a multi-byte varint length
]

for seed in SEEDS:  # every seed passes: the fuzzing starts from valid tokens
    Token.load(seed).check(KEY, **PASSING)


CONTEXTS = (
    (KEY, PASSING),
    (KEY, {"now": NOW}),
    (b"wrong", PASSING),
    ("fuzz-key", {"project_name": "bar", "now": NOW}),
)


def _restrictions(token: Token) -> list[Restriction] | str:
    """The token's restrictions, or the LoaderError (its documented failure) as text."""
    try:
        return token.restrictions
    except LoaderError as exc:
        return f"LoaderError: {exc}"


def _verdict(token: Token, key: bytes | str, context: dict[str, object]) -> tuple[str, ...]:
    """The reasons ``check`` gives (ValidationError, its documented failure); () if it passes."""
    try:
        token.check(key, **context)  # type: ignore[arg-type]
    except ValidationError as exc:
        return exc.reasons or (str(exc),)
    return ()


def exercise(text: object, seed: str | None = None) -> None:
    """Everything a server or a holder might do with a token.

    Each call may raise only what the API documents (``load`` and ``restrictions`` a
    LoaderError, ``check`` a ValidationError; ``dump`` and ``repr`` nothing): anything
    else fails the test. Whatever loads must dump, and load again into the same token.
    """
    try:
        token = Token.load(text)  # type: ignore[arg-type]
    except LoaderError:
        return
    repr(token)
    restrictions = _restrictions(token)
    dumped = token.dump()
    again = Token.load(dumped)
    assert again.dump() == dumped
    assert (again.prefix, again.domain, again.identifier) == (
        token.prefix,
        token.domain,
        token.identifier,
    )
    assert _restrictions(again) == restrictions
    for key, context in CONTEXTS:
        verdict = _verdict(token, key, context)
        assert _verdict(again, key, context) == verdict
        if verdict:
            continue
        # It passed: then it must be the seed's signed content (only the location,
        # which no macaroon signs, may differ), and every restriction must be readable.
        assert key in (KEY, KEY.decode())
        assert not isinstance(restrictions, str)
        if seed is not None:
            original = Token.load(seed)._raw
            raw = token._raw
            assert (raw.identifier, raw.caveats, raw.signature) == (
                original.identifier,
                original.caveats,
                original.signature,
            )


@st.composite
def mutated_binary(draw: st.DrawFn) -> tuple[str, str]:
    seed = draw(st.sampled_from(SEEDS))
    prefix, _, body = seed.partition("-")
    data = bytearray(m.b64decode(body))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "duplicate", "flip"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        byte = draw(st.sampled_from([0, 1, 2, 4, 6, 0x20, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
        if op == "replace" and data:
            data[i] = byte
        elif op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data.insert(i, byte)
        elif op == "delete" and data:
            del data[i]
        elif op == "truncate":
            del data[i:]
        elif op == "duplicate":
            j = draw(st.integers(i, len(data)))
            data[j:j] = data[i:j]
    return f"{prefix}-{m.b64encode(bytes(data))}", seed


@st.composite
def mutated_text(draw: st.DrawFn) -> tuple[str, str]:
    seed = draw(st.sampled_from(SEEDS))
    text = list(seed)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text) - 1))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        char = draw(st.sampled_from(["-", "_", "+", "/", "=", "A", "a", " ", "\n", "é", "\x00"]))
        if op == "replace":
            text[i] = char
        elif op == "insert":
            text.insert(i, char)
        elif len(text) > 1:
            del text[i]
    return "".join(text), seed


@given(mutated_binary())
def test_mutated_binary_tokens(case):
    exercise(*case)


@given(mutated_text())
def test_mutated_token_strings(case):
    exercise(*case)


@given(st.text(max_size=300))
def test_random_strings(text):
    exercise(text)
    exercise("pypi-" + text)


@given(st.binary(max_size=300))
def test_random_binary_bodies(data):
    exercise("pypi-" + m.b64encode(b"\x02" + data))
    exercise("pypi-" + m.b64encode(data))


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_caveats(caveat):
    try:
        restriction = Restriction.load_json(caveat)
    except LoaderError:
        pass
    else:
        assert Restriction.load_json(restriction.dump_json()) == restriction
    data = caveat if isinstance(caveat, bytes) else caveat.encode("utf-8", "surrogatepass")
    raw = m.RawMacaroon(b"", b"id", (data,), m.sign(KEY, b"id", [data]))
    exercise("pypi-" + m.b64encode(m.encode(raw)))


def _atheris_main() -> None:  # pragma: no cover - optional, coverage-guided
    import atheris

    def one_input(data: bytes) -> None:
        provider = atheris.FuzzedDataProvider(data)
        seed = SEEDS[provider.ConsumeIntInRange(0, len(SEEDS) - 1)]
        prefix, _, body = seed.partition("-")
        binary = bytearray(m.b64decode(body))
        for _ in range(provider.ConsumeIntInRange(1, 4)):
            if binary:
                where = provider.ConsumeIntInRange(0, len(binary) - 1)
                binary[where] = provider.ConsumeInt(1) & 0xFF
        exercise(f"{prefix}-{m.b64encode(bytes(binary))}", seed)
        exercise(provider.ConsumeUnicodeNoSurrogates(400))

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    _atheris_main()
