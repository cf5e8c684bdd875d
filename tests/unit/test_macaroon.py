"""The v2 binary codec and HMAC chain (``pypitoken_core._macaroon``), byte for byte.

pymacaroons 0.13 is the reference: whatever it writes we write, whatever we decode it
decodes to the same parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pymacaroons
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pypitoken_core import LoaderError
from pypitoken_core import _macaroon as m

# formats.md 1.4: domain example.com, identifier 123foo, key ohsosecret, no caveat.
VECTOR_BODY = "AgELZXhhbXBsZS5jb20CBjEyM2ZvbwAABiCK4TytWvy17_Up7TvhdVDhFx8cjU_ne_6wtOqxPUZmxw"
VECTOR_SIG = bytes.fromhex("8ae13cad5afcb5eff529ed3be17550e1171f1c8d4fe77bfeb0b4eab13d4666c7")


def packet(field: int, data: bytes) -> bytes:
    assert len(data) < 128 and field < 128
    return bytes([field, len(data)]) + data


def v2(
    *,
    location: bytes | None = b"loc",
    identifier: bytes | None = b"id",
    caveats: list[bytes] = (),  # type: ignore[assignment]
    signature: bytes = b"s" * 32,
    trailer: bytes = b"",
) -> bytes:
    out = b"\x02"
    if location is not None:
        out += packet(1, location)
    if identifier is not None:
        out += packet(2, identifier)
    out += b"\x00"
    for caveat in caveats:
        out += packet(2, caveat) + b"\x00"
    out += b"\x00" + packet(6, signature) + trailer
    return out


# --- base64 ------------------------------------------------------------------------------


def test_b64_vector_round_trip():
    data = m.b64decode(VECTOR_BODY)
    assert m.b64encode(data) == VECTOR_BODY
    assert data == base64.urlsafe_b64decode(VECTOR_BODY + "=" * (-len(VECTOR_BODY) % 4))


@pytest.mark.parametrize(
    "text",
    [
        VECTOR_BODY,
        VECTOR_BODY + "=",  # padded (the body needs one '=')
        VECTOR_BODY.replace("-", "+").replace("_", "/"),  # standard alphabet
        VECTOR_BODY.replace("-", "+").replace("_", "/") + "=",
    ],
)
def test_b64decode_accepts_both_alphabets_and_padding(text):
    assert m.b64decode(text) == m.b64decode(VECTOR_BODY)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AgEL ZXhh", "not valid base64"),  # junk is refused (pymacaroons drops it)
        ("AgEL\nZXhh", "not valid base64"),
        ("AgEL.ZXhh", "not valid base64"),
        ("AgEL=ZXhh", "not valid base64"),  # padding in the middle
        ("=AgELZXhh", "not valid base64"),
        ("AgELZ", "bad length"),  # 4n+1 characters cannot be base64
        ("AgELé", "non-ASCII"),
        ("AgEL\x00", "not valid base64"),
        ("\ud800", "non-ASCII"),
    ],
)
def test_b64decode_refuses(text, message):
    with pytest.raises(LoaderError, match=message) as info:
        m.b64decode(text)
    assert str(info.value).startswith("Deserialization error: ")


def test_b64encode_has_no_padding_and_is_urlsafe():
    for n in range(0, 40):
        data = bytes(range(256))[::-1][:n] + b"\xfb\xff" * n
        text = m.b64encode(data)
        assert "=" not in text and "+" not in text and "/" not in text
        assert m.b64decode(text) == data
        assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_b64decode_empty():
    assert m.b64decode("") == b""


# --- decode ------------------------------------------------------------------------------


def test_decode_vector():
    raw = m.decode(m.b64decode(VECTOR_BODY))
    assert raw == m.RawMacaroon(b"example.com", b"123foo", (), VECTOR_SIG)


def test_decode_without_location():
    raw = m.decode(v2(location=None, caveats=[b"[1]"]))
    assert raw == m.RawMacaroon(b"", b"id", (b"[1]",), b"s" * 32)


def test_decode_caveats_in_order():
    raw = m.decode(v2(caveats=[b"a", b"", b"c" * 100]))
    assert raw.caveats == (b"a", b"", b"c" * 100)


def test_decode_multibyte_varint_lengths():
    caveat = b"x" * 300  # length 300 = varint ac 02
    data = b"\x02" + packet(2, b"id") + b"\x00" + b"\x02\xac\x02" + caveat + b"\x00\x00"
    data += packet(6, b"s" * 32)
    assert m.decode(data).caveats == (caveat,)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Must supply serialized macaroon"),
        (b"\x01", "cannot determine data format"),
        (b"\x03" + v2()[1:], "cannot determine data format"),
        (b"\x02", "past end of buffer"),
        (v2()[:-1], "past end of buffer"),  # truncated signature
        (v2()[:10], "past end of buffer"),
        (v2(trailer=b"\x00"), "trailing data"),
        (v2(trailer=b"junk"), "trailing data"),
        (v2(identifier=None), "no identifier"),
        (v2(signature=b"s" * 31), "no valid signature"),
        (v2(signature=b"s" * 33), "no valid signature"),
        (v2()[: -len(packet(6, b"s" * 32))] + packet(5, b"s" * 32), "no valid signature"),
        # header with an extra field
        (b"\x02" + packet(2, b"id") + packet(4, b"v") + b"\x00", "unexpected field"),
        # a caveat with a verification id is third-party: refused
        (
            b"\x02" + packet(2, b"id") + b"\x00" + packet(2, b"c") + packet(4, b"v") + b"\x00",
            "third-party caveats are not supported",
        ),
        # a caveat with a location (pymacaroons refuses it on a first-party caveat)
        (
            b"\x02" + packet(2, b"id") + b"\x00" + packet(1, b"l") + packet(2, b"c") + b"\x00",
            "third-party",
        ),
        (b"\x02" + packet(2, b"id") + b"\x00" + packet(6, b"c") + b"\x00", "no identifier"),
        (
            b"\x02" + packet(2, b"id") + b"\x00" + packet(2, b"c") + packet(2, b"d") + b"\x00",
            "unexpected field in caveat",
        ),
        (b"\x02\x02\xff\xff\xff\xff\xff\xff", "bad varint"),
        (b"\x02\x02\x80", "bad varint"),
        (b"\x02\x02\x7f", "past end of buffer"),
    ],
)
def test_decode_refuses(data, message):
    with pytest.raises(LoaderError, match=message) as info:
        m.decode(data)
    assert str(info.value).startswith("Deserialization error: ")


def test_decode_truncations_never_leak():
    data = v2(caveats=[b'[1, ["foo"]]', b'[3, "u"]'])
    assert m.decode(data).caveats == (b'[1, ["foo"]]', b'[3, "u"]')
    for end in range(len(data)):
        with pytest.raises(LoaderError, match=r"^Deserialization error: "):
            m.decode(data[:end])


# --- encode ------------------------------------------------------------------------------


def test_encode_vector():
    raw = m.RawMacaroon(b"example.com", b"123foo", (), VECTOR_SIG)
    assert m.b64encode(m.encode(raw)) == VECTOR_BODY


def test_encode_writes_an_empty_location():
    # pymacaroons always writes the location packet; a token read without one gains it,
    # exactly as when pypitoken re-serialises it.
    raw = m.RawMacaroon(b"", b"id", (), b"s" * 32)
    assert m.encode(raw) == v2(location=b"")
    assert m.encode(m.decode(v2(location=None))) == v2(location=b"")


def test_encode_decode_round_trip():
    raw = m.RawMacaroon(b"l" * 200, b"i" * 130, (b"a" * 129, b"b", b""), b"s" * 32)
    assert m.decode(m.encode(raw)) == raw


@pytest.mark.parametrize("caveats", [[], ['[1, ["foo"]]'], ["a", "b" * 200, "c"]])
@pytest.mark.parametrize("location", ["", "pypi.org", "x" * 300])
def test_encode_matches_pymacaroons(caveats, location):
    mac = pymacaroons.Macaroon(
        location=location, identifier="ident", key="key", version=pymacaroons.MACAROON_V2
    )
    for caveat in caveats:
        mac.add_first_party_caveat(caveat)
    raw = m.RawMacaroon(
        location.encode(),
        b"ident",
        tuple(c.encode() for c in caveats),
        bytes.fromhex(mac.signature),
    )
    assert m.b64encode(m.encode(raw)) == mac.serialize()
    assert m.decode(m.b64decode(mac.serialize())) == raw


# --- signatures --------------------------------------------------------------------------


def test_root_signature_vector():
    assert m.root_signature(b"ohsosecret", b"123foo") == VECTOR_SIG


@given(
    key=st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"k" * 64, b"k" * 65])),
    message=st.binary(max_size=300),
)
def test_hmac_sha256_is_the_stdlib_hmac(key: bytes, message: bytes) -> None:
    # Keys shorter than, equal to and longer than SHA-256's 64-byte block.
    assert m.hmac_sha256(key, message) == hmac.digest(key, message, "sha256")


def test_sign_is_the_macaroon_hmac_chain():
    def h(key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, hashlib.sha256).digest()

    key, identifier, caveats = b"k", b"id", [b"c1", b"c2"]
    expected = h(h(h(h(b"macaroons-key-generator", key), identifier), b"c1"), b"c2")
    assert m.sign(key, identifier, caveats) == expected
    assert m.chain(m.root_signature(key, identifier), caveats) == expected
    assert m.chain(m.sign(key, identifier, caveats[:1]), caveats[1:]) == expected
    assert m.chain(expected, []) == expected


@pytest.mark.parametrize("caveats", [[], ["a"], ["[0, 2, 1]", '[1, ["x"]]', "{}"]])
def test_sign_matches_pymacaroons(caveats):
    mac = pymacaroons.Macaroon(location="l", identifier="ident", key=b"\x00secret\xff")
    for caveat in caveats:
        mac.add_first_party_caveat(caveat)
    expected = bytes.fromhex(mac.signature)
    assert m.sign(b"\x00secret\xff", b"ident", [c.encode() for c in caveats]) == expected


def test_signatures_match_uses_compare_digest(monkeypatch):
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(m.hmac, "compare_digest", spy)
    assert m.signatures_match(b"a" * 32, b"a" * 32)
    assert not m.signatures_match(b"a" * 32, b"b" * 32)
    assert len(calls) == 2


def test_signatures_match():
    assert m.signatures_match(VECTOR_SIG, bytes(VECTOR_SIG))
    assert not m.signatures_match(VECTOR_SIG, VECTOR_SIG[:-1] + b"\x00")
    assert not m.signatures_match(VECTOR_SIG, b"")


# --- the fast paths are the reference paths ----------------------------------------------------


def _outcome(func, data):
    try:
        return ("ok", func(data))
    except LoaderError as exc:
        return ("error", str(exc))


def _variants() -> list[bytes]:
    base = [
        v2(),
        v2(location=None),
        v2(location=b""),
        v2(caveats=[b'[1, ["foo"]]', b'[3, "u"]']),
        v2(caveats=[b"x" * 127]),
        m.encode(m.RawMacaroon(b"l", b"i", (b"x" * 128,), b"s" * 32)),  # two-byte length
        v2(location=b"l" * 127, identifier=b"i" * 127),
        v2(caveats=[b""]),
        m.encode(m.RawMacaroon(b"l" * 200, b"i" * 300, (b"c" * 130, b"d"), b"s" * 32)),
    ]
    out = list(base)
    for data in base:
        out += [data[:i] for i in range(len(data))]
        out += [data + b"\x00", data + b"\x06\x20" + b"s" * 32, data[:-1] + b"\x00"]
        for i in range(len(data)):
            for byte in (0, 1, 2, 4, 6, 0x20, 0x7F, 0x80, 0xFF):
                out.append(data[:i] + bytes([byte]) + data[i + 1 :])
    return out


def test_decode_fast_path_equals_the_general_decoder():
    variants = _variants()
    assert len(variants) > 5000
    for data in variants:
        assert _outcome(m.decode, data) == _outcome(m._decode_general, data), data


@pytest.mark.parametrize(
    "text",
    [
        VECTOR_BODY,
        VECTOR_BODY + "=",
        VECTOR_BODY + "==",
        VECTOR_BODY + "=" * 5,
        "=" + VECTOR_BODY,
        VECTOR_BODY[:10] + "=" + VECTOR_BODY[10:],
        VECTOR_BODY[:10] + "!" + VECTOR_BODY[10:],
        VECTOR_BODY + "A",
        VECTOR_BODY + "AB",
        "A",
        "A=",
        "AB=C",
        "",
        "=",
        "-_+/",
        "ab\n",
    ],
)
def test_b64decode_matches_its_definition(text):
    """Success exactly when the alphabet check and the length check pass, same bytes."""
    data = text.encode()
    stripped = data.rstrip(b"=")
    valid = m._BASE64_CHARS.fullmatch(data) is not None and len(stripped) % 4 != 1
    try:
        decoded = m.b64decode(text)
    except LoaderError:
        assert not valid
        return
    assert valid
    standard = stripped.replace(b"-", b"+").replace(b"_", b"/")
    assert decoded == base64.b64decode(standard + b"=" * (-len(standard) % 4))
