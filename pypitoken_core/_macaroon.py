"""The hot path: libmacaroons v2 binary codec and the HMAC-SHA256 signature chain.

pymacaroons does the same work in about 40 µs per token, mostly in generic object and
serializer layers; this module does it with ``binascii`` and ``hashlib`` so that a
check costs little more than the HMACs themselves. The bytes are the same: pymacaroons
remains the reference (``Token._macaroon`` builds one on demand, and the differential
tests compare both).

v2 binary layout (libmacaroons ``macaroon.c``): version byte ``0x02``; then packets
``field-type varint, length varint, data``. Header: optional location (1), identifier
(2), end-of-section (0). Each caveat: optional location (1), identifier (2), optional
verification id (4), end-of-section. A final end-of-section, then the signature (6), 32
bytes. Only first-party caveats are supported: a verification id (third-party caveat)
is refused, since nothing here could discharge it.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from typing import NamedTuple

from .exceptions import LoaderError

__all__ = [
    "RawMacaroon",
    "chain",
    "decode",
    "encode",
    "encoded_length",
    "hmac_sha256",
    "root_signature",
    "sign",
    "signatures_match",
]

_KEY_GENERATOR = b"macaroons-key-generator"
_HMAC_BLOCK = 64  # SHA-256's block size
_HMAC_INNER = bytes(byte ^ 0x36 for byte in range(256))
_HMAC_OUTER = bytes(byte ^ 0x5C for byte in range(256))
_EOS, _LOCATION, _IDENTIFIER, _VID, _SIGNATURE = 0, 1, 2, 4, 6
_SIGNATURE_BYTES = 32
_BASE64_CHARS = re.compile(rb"[A-Za-z0-9_\-+/]*=*")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


class RawMacaroon(NamedTuple):
    """A decoded v2 macaroon: everything is bytes, nothing is interpreted."""

    location: bytes
    identifier: bytes
    caveats: tuple[bytes, ...]
    signature: bytes


def b64decode(text: str) -> bytes:
    """Decode base64 (url-safe or standard alphabet, padding optional), strictly.

    pymacaroons silently drops characters outside the alphabet; we refuse them.
    """
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise LoaderError("Deserialization error: token contains non-ASCII characters") from exc
    standard = data.rstrip(b"=").translate(_TO_STANDARD)
    try:
        # strict_mode refuses every character outside the alphabet, padding in the middle
        # and impossible lengths: it succeeds exactly when the checks below would pass.
        return binascii.a2b_base64(standard + b"=" * (-len(standard) % 4), strict_mode=True)
    except binascii.Error as exc:
        error = exc
    # Only for errors: say why.
    if _BASE64_CHARS.fullmatch(data) is None:
        raise LoaderError("Deserialization error: token is not valid base64") from error
    if len(standard) % 4 == 1:
        raise LoaderError("Deserialization error: token is not valid base64 (bad length)")
    raise LoaderError("Deserialization error: token is not valid base64") from error


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding, as pymacaroons writes it."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def _truncated() -> LoaderError:
    return LoaderError("Deserialization error: field data extends past end of buffer")


def decode(data: bytes) -> RawMacaroon:
    """Decode v2 binary macaroon bytes; any structural problem raises :class:`LoaderError`."""
    # Fast path for the layout every real token has: location, identifier and caveats
    # shorter than 128 bytes (one-byte field types and lengths), first-party caveats only,
    # the signature last. It returns exactly what _decode_general would; anything else,
    # valid or not, goes to _decode_general, which is the reference.
    try:
        if data[0] == 2 and data[1] == _LOCATION and data[2] < 0x80:
            stop = 3 + data[2]
            location = data[3:stop]
            if data[stop] == _IDENTIFIER and data[stop + 1] < 0x80:
                start = stop + 2
                stop = start + data[stop + 1]
                identifier = data[start:stop]
                if data[stop] == _EOS:
                    pos = stop + 1
                    caveats = []
                    while data[pos] == _IDENTIFIER and data[pos + 1] < 0x80:
                        start = pos + 2
                        stop = start + data[pos + 1]
                        if data[stop] != _EOS:
                            break
                        caveats.append(data[start:stop])
                        pos = stop + 1
                    end = len(data)
                    if (
                        pos == end - 3 - _SIGNATURE_BYTES
                        and data[pos] == _EOS
                        and data[pos + 1] == _SIGNATURE
                        and data[pos + 2] == _SIGNATURE_BYTES
                    ):
                        return RawMacaroon(location, identifier, tuple(caveats), data[pos + 3 :])
    except IndexError:  # ran off the end: let the general decoder say where
        pass
    return _decode_general(data)


def _decode_general(data: bytes) -> RawMacaroon:
    if not data:
        raise LoaderError("Deserialization error: Must supply serialized macaroon.")
    if data[0] != 2:
        raise LoaderError(
            "Deserialization error: cannot determine data format of binary-encoded macaroon"
        )
    end = len(data)
    pos = 1

    def varint() -> int:
        # Field types and lengths are varints; real ones fit in one byte.
        nonlocal pos
        if pos >= end:
            raise _truncated()
        byte = data[pos]
        pos += 1
        if byte < 0x80:
            return byte
        value, shift = byte & 0x7F, 7
        while True:
            if pos >= end or shift > 28:
                raise LoaderError("Deserialization error: bad varint")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    def packet() -> tuple[int, bytes]:
        # An end-of-section marker is the field type 0 alone, with no length.
        nonlocal pos
        field = varint()
        if field == _EOS:
            return field, b""
        length = varint()
        if pos + length > end:
            raise _truncated()
        chunk = data[pos : pos + length]
        pos += length
        return field, chunk

    field, value = packet()
    location = b""
    if field == _LOCATION:
        location = value
        field, value = packet()
    if field != _IDENTIFIER:
        raise LoaderError("Deserialization error: macaroon has no identifier")
    identifier = value
    if packet()[0] != _EOS:
        raise LoaderError("Deserialization error: unexpected field in macaroon header")

    caveats = []
    while True:
        field, value = packet()
        if field == _EOS:
            break
        if field == _LOCATION:
            # Only third-party caveats have a location (pymacaroons refuses it on a
            # first-party one); skipping it would also change the bytes on dump().
            raise LoaderError("Deserialization error: third-party caveats are not supported")
        if field != _IDENTIFIER:
            raise LoaderError("Deserialization error: caveat has no identifier")
        caveat = value
        field, value = packet()
        if field == _VID:
            raise LoaderError("Deserialization error: third-party caveats are not supported")
        if field != _EOS:
            raise LoaderError("Deserialization error: unexpected field in caveat")
        caveats.append(caveat)

    field, signature = packet()
    if field != _SIGNATURE or len(signature) != _SIGNATURE_BYTES:
        raise LoaderError("Deserialization error: macaroon has no valid signature")
    if pos != end:
        raise LoaderError("Deserialization error: trailing data after the signature")
    return RawMacaroon(location, identifier, tuple(caveats), signature)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _packet(field: int, data: bytes) -> bytes:
    return _varint(field) + _varint(len(data)) + data


def encode(macaroon: RawMacaroon) -> bytes:
    """Encode as v2 binary, byte for byte what pymacaroons' BinarySerializer writes.

    The location packet is always written, even when empty: pymacaroons does so (its
    location is never None), and pypitoken tokens with ``domain=""`` carry it.
    """
    parts = [b"\x02", _packet(_LOCATION, macaroon.location)]
    parts.append(_packet(_IDENTIFIER, macaroon.identifier))
    parts.append(b"\x00")
    for caveat in macaroon.caveats:
        parts.append(_packet(_IDENTIFIER, caveat))
        parts.append(b"\x00")
    parts.append(b"\x00")
    parts.append(_packet(_SIGNATURE, macaroon.signature))
    return b"".join(parts)


def _packet_length(data: bytes) -> int:
    # field type (1 byte) + length varint + data
    size = len(data)
    return 2 + size + (size >= 0x80) + (size >= 0x4000) + (size >= 0x200000) + (size >= 0x10000000)


def encoded_length(macaroon: RawMacaroon) -> int:
    """Length of ``b64encode(encode(macaroon))``, without encoding anything."""
    size = 1 + _packet_length(macaroon.location) + _packet_length(macaroon.identifier) + 1
    for caveat in macaroon.caveats:
        size += _packet_length(caveat) + 1
    size += 1 + 2 + _SIGNATURE_BYTES
    return (size * 4 + 2) // 3


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104): what ``hmac.digest(key, message, "sha256")`` returns.

    Built on hashlib's SHA-256, as the stdlib's own pure-Python HMAC is, because the
    one-shot HMAC of OpenSSL 3 that ``hmac.digest`` calls looks its algorithm up again on
    every call: 1.6 µs against 0.8 here, and checking a token takes six of them. The tests
    compare the two over random keys and messages of every length class.
    """
    if len(key) > _HMAC_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_HMAC_BLOCK, b"\x00")
    inner = hashlib.sha256(key.translate(_HMAC_INNER) + message).digest()
    return hashlib.sha256(key.translate(_HMAC_OUTER) + inner).digest()


def root_signature(key: bytes, identifier: bytes) -> bytes:
    """The signature of a macaroon with no caveats (libmacaroons key derivation)."""
    return hmac_sha256(hmac_sha256(_KEY_GENERATOR, key), identifier)


def chain(signature: bytes, caveats: tuple[bytes, ...] | list[bytes]) -> bytes:
    """Extend a signature over more first-party caveats (what adding a caveat does)."""
    for caveat in caveats:
        signature = hmac_sha256(signature, caveat)
    return signature


def sign(key: bytes, identifier: bytes, caveats: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The HMAC-SHA256 chain over identifier and first-party caveats."""
    return chain(root_signature(key, identifier), caveats)


def signatures_match(expected: bytes, actual: bytes) -> bool:
    """The one place signatures are compared: constant time."""
    return hmac.compare_digest(expected, actual)
