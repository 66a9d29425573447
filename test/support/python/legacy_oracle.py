#!/usr/bin/env python3
"""Independent oracle for the two legacy formats rekey rotates in place.

Written from the formats' own specifications, with no rekey code:

* Fernet: Python's `cryptography` (Fernet / MultiFernet), what the Fernet
  runbook's application runs.
* JSON key_id envelopes: the service of runbooks/kek-rotation-reencrypt-cli.md
  (everruns' EncryptionService, its spec as docs/legacy-formats.md records it):
    {"version":1,"alg":"AES-256-GCM","key_id":"kek-vN",
     "dek_wrapped":b64(nonce12 | AESGCM(KEK, DEK32) | tag16),
     "nonce":b64(12 bytes),"ciphertext":b64(AESGCM(DEK, plaintext) | tag16)}
  compact JSON in that field order, standard base64 with padding, no AAD, a
  fresh DEK per value; KEKs `kek-vN:<base64 32 bytes>`.

Reads one JSON request on stdin, writes one JSON answer on stdout:

  {"op": "make", "fernet_key": k, "kek_id": id, "kek": b64, "plaintexts": [...], "times": [...]}
      -> {"fernet": [token...], "json": [value...]}
  {"op": "read", "fernet_keys": [k...], "fernet": [token...], "keks": {id: b64}, "json": [value...]}
      -> {"fernet": [{"plaintext", "timestamp"}...], "json": [{"plaintext", "key_id"}...]}

`read` is strict, as the applications are: Fernet tokens must verify under
the keys given (pass the primary alone to prove a rotation), and a JSON value
must be exactly what the service writes (field order, compact separators,
canonical standard base64, lengths), else the whole run fails naming the value's
index (never its content).
"""
import base64
import binascii
import json
import os
import sys
from collections import OrderedDict

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FIELDS = ["version", "alg", "key_id", "dek_wrapped", "nonce", "ciphertext"]


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text, what):
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(f"{what} is not standard base64")
    if b64(raw) != text:
        raise ValueError(f"{what} is not canonical standard base64 with padding")
    return raw


def json_encrypt(kek_id, kek, plaintext):
    dek = AESGCM.generate_key(bit_length=256)
    wrap_nonce = os.urandom(12)
    nonce = os.urandom(12)
    value = OrderedDict()
    value["version"] = 1
    value["alg"] = "AES-256-GCM"
    value["key_id"] = kek_id
    value["dek_wrapped"] = b64(wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, dek, None))
    value["nonce"] = b64(nonce)
    value["ciphertext"] = b64(AESGCM(dek).encrypt(nonce, plaintext, None))
    return json.dumps(value, separators=(",", ":"))


def json_decrypt(keks, text, i):
    value = json.loads(text, object_pairs_hook=OrderedDict)
    if list(value.keys()) != FIELDS:
        raise ValueError(f"json[{i}]: fields {list(value.keys())} are not the service's {FIELDS}")
    if json.dumps(value, separators=(",", ":")) != text:
        raise ValueError(f"json[{i}]: not compact JSON as the service writes it")
    if value["version"] != 1 or value["alg"] != "AES-256-GCM":
        raise ValueError(f"json[{i}]: version/alg are not 1 / AES-256-GCM")
    kek = keks.get(value["key_id"])
    if kek is None:
        raise ValueError(f"json[{i}]: unknown key_id {value['key_id']!r}")
    wrapped = unb64(value["dek_wrapped"], f"json[{i}].dek_wrapped")
    nonce = unb64(value["nonce"], f"json[{i}].nonce")
    sealed = unb64(value["ciphertext"], f"json[{i}].ciphertext")
    if len(wrapped) != 60 or len(nonce) != 12 or len(sealed) < 16:
        raise ValueError(f"json[{i}]: field lengths are not the service's")
    dek = AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], None)
    return AESGCM(dek).decrypt(nonce, sealed, None), value["key_id"], value["dek_wrapped"], value["nonce"]


def main():
    req = json.load(sys.stdin)
    if req["op"] == "make":
        f = Fernet(req["fernet_key"].encode())
        kek = base64.b64decode(req["kek"])
        pts = [p.encode("utf-8") for p in req["plaintexts"]]
        times = req.get("times") or [None] * len(pts)
        fernet = [(f.encrypt_at_time(p, t) if t is not None else f.encrypt(p)).decode() for p, t in zip(pts, times)]
        out = {"fernet": fernet, "json": [json_encrypt(req["kek_id"], kek, p) for p in pts]}
    elif req["op"] == "read":
        mf = MultiFernet([Fernet(k.encode()) for k in req["fernet_keys"]]) if req.get("fernet_keys") else None
        keks = {k: base64.b64decode(v) for k, v in req.get("keks", {}).items()}
        fernet = []
        for i, token in enumerate(req.get("fernet", [])):
            try:
                fernet.append({"plaintext": mf.decrypt(token.encode()).decode("utf-8"), "timestamp": mf.extract_timestamp(token.encode())})
            except Exception as e:  # name the index and the error class, never the token
                raise SystemExit(f"fernet[{i}]: {type(e).__name__}")
        values = []
        for i, text in enumerate(req.get("json", [])):
            try:
                pt, key_id, dek_wrapped, nonce = json_decrypt(keks, text, i)
            except ValueError as e:
                raise SystemExit(str(e))
            except Exception as e:
                raise SystemExit(f"json[{i}]: {type(e).__name__}")
            values.append({"plaintext": pt.decode("utf-8"), "key_id": key_id, "dek_wrapped": dek_wrapped, "nonce": nonce})
        out = {"fernet": fernet, "json": values}
    else:
        raise SystemExit(f"unknown op {req['op']!r}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
