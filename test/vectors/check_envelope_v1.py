#!/usr/bin/env python3
"""Independent check of test/vectors/envelope-v1.json with Python's `cryptography`.

Reads the envelope bytes as docs/envelope-format.md specifies them, with no
rekey code, and decrypts every vector; every negative vector must fail. Shows
that the format is implementable from the specification alone and that the
TypeScript implementation and the vectors agree with a second AES-GCM.

    python3 test/vectors/check_envelope_v1.py [path/to/envelope-v1.json]

Prints one summary line; exits 1 on any disagreement.
"""
import base64
import json
import os
import re
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ID = re.compile(rb"^[A-Za-z0-9._:/+=@-]+$")


class Reject(Exception):
    """The envelope is refused; args[0] names the error class rekey raises."""


def lp(s):
    b = s.encode("utf-8")
    return struct.pack(">H", len(b)) + b


def context(ctx):
    tenant = ctx.get("tenant")
    t = b"\x00" if tenant is None else b"\x01" + lp(tenant)
    return lp(ctx["table"]) + lp(ctx["column"]) + lp(ctx["rowId"]) + t


def from_text(text):
    if text == "":
        raise Reject("EnvelopeFormatError")
    m = re.match(r"^rk(\d{1,3}):", text)
    if m and m.group(1) != "1":
        raise Reject("UnsupportedVersionError")
    if not text.startswith("rk1:"):
        raise Reject("EnvelopeFormatError")
    body = text[4:]
    if body == "" or len(body) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9_-]+", body):
        raise Reject("EnvelopeFormatError")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != body:
        raise Reject("EnvelopeFormatError")  # non-canonical spelling
    return raw


def parse(b):
    if len(b) == 0:
        raise Reject("EnvelopeFormatError")
    if b[0] != 1:
        raise Reject("UnsupportedVersionError")
    if len(b) < 34:
        raise Reject("EnvelopeFormatError")
    k = b[1]
    if k == 0 or len(b) < 2 + k + 2:
        raise Reject("EnvelopeFormatError")
    key_id = b[2 : 2 + k]
    if not KEY_ID.match(key_id):
        raise Reject("EnvelopeFormatError")
    (w,) = struct.unpack(">H", b[2 + k : 4 + k])
    start = 4 + k
    if w == 0 or len(b) < start + w + 12 + 16:
        raise Reject("EnvelopeFormatError")
    wrapped = b[start : start + w]
    nonce = b[start + w : start + w + 12]
    sealed = b[start + w + 12 :]
    return key_id.decode("ascii"), wrapped, nonce, sealed


def decrypt(envelope, ctx, keys, destroyed=()):
    key_id, wrapped, nonce, sealed = parse(envelope)
    if key_id not in keys:
        raise Reject("UnknownKeyError")
    if key_id in destroyed:
        raise Reject("KeyDestroyedError")
    encoded = context(ctx)
    wrap_aad = bytes([0x77, 1, len(key_id)]) + key_id.encode("ascii") + encoded
    if len(wrapped) != 60:
        raise Reject("AuthenticationError:data-key")
    try:
        data_key = AESGCM(keys[key_id]).decrypt(wrapped[:12], wrapped[12:], wrap_aad)
    except InvalidTag:
        raise Reject("AuthenticationError:data-key")
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, bytes([0x64, 1]) + encoded)
    except InvalidTag:
        raise Reject("AuthenticationError:ciphertext")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "envelope-v1.json")
    with open(path) as f:
        data = json.load(f)
    keys = {k["id"]: base64.b64decode(k["base64"]) for k in data["keys"]}
    failures = []
    for v in data["vectors"]:
        binary = bytes.fromhex(v["envelopeHex"])
        if from_text(v["envelopeText"]) != binary:
            failures.append(f"{v['name']}: text and hex forms differ")
        if parse(binary)[0] != v["keyId"]:
            failures.append(f"{v['name']}: key id")
        if decrypt(binary, v["context"], keys) != bytes.fromhex(v["plaintextHex"]):
            failures.append(f"{v['name']}: wrong plaintext")
    for n in data["negative"]:
        expected = n["expect"]["class"] + (":" + n["expect"]["part"] if "part" in n["expect"] else "")
        try:
            env = from_text(n["envelopeText"]) if "envelopeText" in n else bytes.fromhex(n["envelopeHex"])
            decrypt(env, n["context"], keys, n.get("destroyedKeys", ()))
            failures.append(f"{n['name']}: decrypted, expected {expected}")
        except Reject as r:
            if r.args[0] != expected:
                failures.append(f"{n['name']}: {r.args[0]}, expected {expected}")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"ok: {len(data['vectors'])} vectors decrypt, {len(data['negative'])} negative vectors refused as expected")


if __name__ == "__main__":
    main()
