"""rekey's rk1 envelope for Python: encrypt and decrypt values that rekey's
TypeScript library, CLI and re-encryption engine read and write.

Depends only on `cryptography`. Implements docs/envelope-format.md (version 1)
with raw key-encryption keys (`kek-vN`, 32 bytes), the same keys as the
`raw` keyring (SECRETS_ENCRYPTION_KEY / SECRETS_ENCRYPTION_KEY_PREVIOUS), and
the same encryption context (table, column, row id, optional tenant). Values
written here are rotated by `rekey reencrypt` like any other; values rekey
writes decrypt here.

    from rekey_rk1 import Keyring, Context
    keys = Keyring.from_env()                       # SECRETS_ENCRYPTION_KEY=kek-v2:<base64>, ..._PREVIOUS
    ctx = Context("users", "email", str(user_id))   # + tenant="acme" for tenant-scoped rows
    stored = keys.encrypt(b"alice@example.com", ctx)        # 'rk1:AQZrZWst...' (text columns)
    keys.decrypt(stored, ctx)                                # b'alice@example.com'

What this module does not do: the key catalog (rekey refuses keys the
catalog marks destroyed; an application using raw keys should drop a
destroyed key from its variables), the kms and hierarchical keyrings, and
zeroing data keys (Python's bytes are immutable; keep the process short-lived
or use the TypeScript library where that matters).
"""
import base64
import os
import re
import struct
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "Context", "Keyring", "Rk1Error", "EnvelopeFormatError", "UnsupportedVersionError",
    "UnknownKeyError", "AuthenticationError", "peek_key_id", "VERSION", "TEXT_PREFIX",
]

VERSION = 1
TEXT_PREFIX = "rk1:"
NONCE = 12
TAG = 16
KEY_BYTES = 32
MIN_ENVELOPE = 34
KEY_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,255}$")
RAW_KEY = re.compile(r"^([A-Za-z0-9._:/+=@-]+):([A-Za-z0-9+/]+={0,2})$")


class Rk1Error(Exception):
    """Base of this module's errors. Messages name keys by id, never by value, and never hold plaintext."""


class EnvelopeFormatError(Rk1Error):
    """Not an rk1 envelope, cut short, non-canonical text, or a bad field. `reason` as rekey's."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class UnsupportedVersionError(Rk1Error):
    def __init__(self, version: int):
        super().__init__(f"unsupported envelope format version {version} (this module reads version 1)")
        self.version = version


class UnknownKeyError(Rk1Error):
    def __init__(self, key_id: str):
        super().__init__(f"unknown key id {key_id!r}: it is not in this keyring")
        self.key_id = key_id


class AuthenticationError(Rk1Error):
    """`part` is 'data-key' (wrong key, context, or altered header) or 'ciphertext' (altered nonce, ciphertext or tag)."""

    def __init__(self, part: str):
        super().__init__(f"the {'wrapped data key' if part == 'data-key' else 'ciphertext'} did not authenticate")
        self.part = part


@dataclass(frozen=True)
class Context:
    """Where a value is stored; bound into the envelope, so a value copied to another row, column, table or tenant fails."""

    table: str
    column: str
    row_id: str
    tenant: Optional[str] = None

    def encode(self) -> bytes:
        for name in ("table", "column", "row_id"):
            v = getattr(self, name)
            if not isinstance(v, str) or v == "":
                raise ValueError(f"context.{name} must be a non-empty string")
        if self.tenant is not None and (not isinstance(self.tenant, str) or self.tenant == ""):
            raise ValueError("context.tenant must be a non-empty string or None")
        out = _lp(self.table) + _lp(self.column) + _lp(self.row_id)
        return out + (b"\x00" if self.tenant is None else b"\x01" + _lp(self.tenant))


def _lp(text: str) -> bytes:
    raw = text.encode("utf-8")  # lone surrogates raise here, as rekey refuses them
    if len(raw) > 0xFFFF:
        raise ValueError("a context field is longer than 65535 bytes")
    return struct.pack(">H", len(raw)) + raw


def _wrap_aad(key_id: str, context: bytes) -> bytes:
    kid = key_id.encode("ascii")
    return bytes([0x77, VERSION, len(kid)]) + kid + context


def _data_aad(context: bytes) -> bytes:
    return bytes([0x64, VERSION]) + context


def _from_text(text: str) -> bytes:
    if text == "":
        raise EnvelopeFormatError("empty", "the value is empty")
    m = re.match(r"^rk(\d{1,3}):", text)
    if m and m.group(1) != "1":
        raise UnsupportedVersionError(int(m.group(1)))
    if not text.startswith(TEXT_PREFIX):
        raise EnvelopeFormatError("bad-prefix", "the value is not an rk1 envelope (no rk1: prefix)")
    body = text[len(TEXT_PREFIX):]
    if body == "":
        raise EnvelopeFormatError("empty", "the envelope text is empty after rk1:")
    if len(body) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9_-]+", body):
        raise EnvelopeFormatError("not-base64", "the envelope text is not unpadded base64url")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != body:
        raise EnvelopeFormatError("not-base64", "the envelope text is not the canonical base64url spelling")
    return raw


def _to_text(raw: bytes) -> str:
    return TEXT_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _parse(b: bytes) -> Tuple[str, bytes, bytes, bytes]:
    if len(b) == 0:
        raise EnvelopeFormatError("empty", "the value is empty")
    if b[0] != VERSION:
        raise UnsupportedVersionError(b[0])
    if len(b) < MIN_ENVELOPE:
        raise EnvelopeFormatError("truncated", f"the envelope is {len(b)} bytes, shorter than the smallest ({MIN_ENVELOPE})")
    k = b[1]
    if k == 0 or len(b) < 4 + k:
        raise EnvelopeFormatError("truncated", "the envelope is cut short in its key id")
    key_id = b[2:2 + k].decode("latin-1")
    if not KEY_ID.match(key_id):
        raise EnvelopeFormatError("bad-field", "the key id has characters outside [A-Za-z0-9._:/+=@-]")
    (w,) = struct.unpack(">H", b[2 + k:4 + k])
    start = 4 + k
    if w == 0 or len(b) < start + w + NONCE + TAG:
        raise EnvelopeFormatError("truncated", "the envelope is cut short in its wrapped key, nonce or ciphertext")
    return key_id, b[start:start + w], b[start + w:start + w + NONCE], b[start + w + NONCE:]


def _as_bytes(value: Union[str, bytes, bytearray, memoryview]) -> bytes:
    if isinstance(value, str):
        return _from_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise EnvelopeFormatError("bad-type", f"a stored value is text or bytes, got {type(value).__name__}")


def peek_key_id(value: Union[str, bytes]) -> str:
    """The key id of an envelope, without any key: what `rekey inventory` counts."""
    return _parse(_as_bytes(value))[0]


class Keyring:
    """Raw KEKs by id, one of them primary (encrypts new values); every one decrypts."""

    def __init__(self, keys: Mapping[str, bytes], primary: str):
        self._keys: Dict[str, AESGCM] = {}
        for key_id, key in keys.items():
            if not KEY_ID.match(key_id):
                raise ValueError(f"key id {key_id!r} must be 1-255 characters of [A-Za-z0-9._:/+=@-]")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} is {len(key)} bytes; a KEK is {KEY_BYTES}")
            self._keys[key_id] = AESGCM(bytes(key))
        if primary not in self._keys:
            raise ValueError(f"the primary key {primary!r} is not among the keys")
        self.primary = primary

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "Keyring":
        """SECRETS_ENCRYPTION_KEY=kek-v2:<base64 32 bytes> (primary), SECRETS_ENCRYPTION_KEY_PREVIOUS=kek-v1:<base64>[,...]."""
        env = os.environ if env is None else env
        primary = _parse_raw_keys(env.get("SECRETS_ENCRYPTION_KEY", ""), "SECRETS_ENCRYPTION_KEY")
        if len(primary) != 1:
            raise ValueError("SECRETS_ENCRYPTION_KEY must hold exactly one <id>:<base64 of 32 bytes> key")
        previous = _parse_raw_keys(env.get("SECRETS_ENCRYPTION_KEY_PREVIOUS", ""), "SECRETS_ENCRYPTION_KEY_PREVIOUS")
        keys = dict(previous)
        keys.update(primary)
        return cls(keys, primary[0][0])

    def key_ids(self):
        return list(self._keys)

    def encrypt(self, plaintext: Union[str, bytes], context: Context, key_id: Optional[str] = None, output: str = "text") -> Union[str, bytes]:
        """A new envelope: a random data key, AES-256-GCM under it, the data key wrapped under `key_id` (default: primary)."""
        key_id = self.primary if key_id is None else key_id
        kek = self._keys.get(key_id)
        if kek is None:
            raise UnknownKeyError(key_id)
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else bytes(plaintext)
        ctx = context.encode()
        data_key = AESGCM.generate_key(bit_length=256)
        wrap_nonce, nonce = os.urandom(NONCE), os.urandom(NONCE)
        wrapped = wrap_nonce + kek.encrypt(wrap_nonce, data_key, _wrap_aad(key_id, ctx))
        sealed = AESGCM(data_key).encrypt(nonce, data, _data_aad(ctx))
        kid = key_id.encode("ascii")
        raw = bytes([VERSION, len(kid)]) + kid + struct.pack(">H", len(wrapped)) + wrapped + nonce + sealed
        if output == "binary":
            return raw
        if output != "text":
            raise ValueError("output is 'text' (rk1:... for text columns) or 'binary' (bytea)")
        return _to_text(raw)

    def decrypt(self, value: Union[str, bytes], context: Context) -> bytes:
        """The plaintext bytes. Raises EnvelopeFormatError, UnsupportedVersionError, UnknownKeyError or AuthenticationError."""
        key_id, wrapped, nonce, sealed = _parse(_as_bytes(value))
        kek = self._keys.get(key_id)
        if kek is None:
            raise UnknownKeyError(key_id)
        ctx = context.encode()
        if len(wrapped) != NONCE + KEY_BYTES + TAG:
            raise AuthenticationError("data-key")
        try:
            data_key = kek.decrypt(wrapped[:NONCE], wrapped[NONCE:], _wrap_aad(key_id, ctx))
        except InvalidTag:
            raise AuthenticationError("data-key") from None
        try:
            return AESGCM(data_key).decrypt(nonce, sealed, _data_aad(ctx))
        except InvalidTag:
            raise AuthenticationError("ciphertext") from None


def _parse_raw_keys(text: str, variable: str):
    out = []
    for i, entry in enumerate(e.strip() for e in text.split(",") if e.strip()):
        m = RAW_KEY.match(entry)
        where = f"{variable}[{i + 1}]"
        if not m:
            raise ValueError(f"{where} must be <id>:<base64 of 32 bytes>, e.g. kek-v2:...")
        key = base64.b64decode(m.group(2), validate=True)
        if len(key) != KEY_BYTES:
            raise ValueError(f"{where} decodes to {len(key)} bytes; a KEK is {KEY_BYTES}")
        out.append((m.group(1), key))
    return out
