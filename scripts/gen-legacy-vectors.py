#!/usr/bin/env python3
"""Known-answer vectors for rekey's legacy readers and blind index, made by an
independent implementation (Python `cryptography`), never by the code under test.

  python3 scripts/gen-legacy-vectors.py            # rewrites test/vectors/legacy/legacy-vectors.json
  python3 scripts/gen-legacy-vectors.py --stdout   # prints a fresh set (test/vectors/legacy/legacy.test.ts runs this)

What it writes:
  fernet.tokens       Fernet / MultiFernet tokens (empty, ASCII, Unicode, 1 KiB; two keys; a rotated one)
  fernet.spec         the generate.json vector of https://github.com/fernet/spec, re-made here
  fernet.invalid      tokens Python itself rejects (each is checked below), with the error rekey must raise
  json_key_id.values  everruns-style JSON envelopes (layout: docs/legacy-formats.md)
  json_key_id.invalid tampered / malformed JSON envelopes and the error rekey must raise
  blind_index.cases   HKDF-SHA256 per column + HMAC-SHA256, as blind-index.ts documents

Test keys only: every key here is generated for the vectors and protects nothing.
"""
import base64, hashlib, hmac, json, os, struct, sys, time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PLAINTEXTS = ["", "sk-live-1234567890", "pässwörd ✓ 🔑", "x" * 1024]
SPEC_SECRET = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
SPEC_TIME = 499162800  # 1985-10-26T01:20:00-07:00, as in the Fernet spec's generate.json
SPEC_TOKEN = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode()


def fernet_vectors():
    k_new, k_old = Fernet.generate_key(), Fernet.generate_key()
    f_new, f_old = Fernet(k_new), Fernet(k_old)
    tokens = []
    for p in PLAINTEXTS:
        tokens.append({"plaintext_hex": p.encode().hex(), "key": "new", "token": f_new.encrypt(p.encode()).decode()})
        tokens.append({"plaintext_hex": p.encode().hex(), "key": "old", "token": f_old.encrypt(p.encode()).decode()})
    # MultiFernet writes with the first key and reads with any; rotate() re-encrypts an old-key token under the first.
    multi = MultiFernet([f_new, f_old])
    tokens.append({"plaintext_hex": b"rotated".hex(), "key": "new", "token": multi.rotate(f_old.encrypt(b"rotated")).decode()})
    tokens.append({"plaintext_hex": b"multi".hex(), "key": "new", "token": multi.encrypt(b"multi").decode()})
    for t in tokens:
        assert multi.decrypt(t["token"].encode()).hex() == t["plaintext_hex"]
    foreign = Fernet(Fernet.generate_key()).encrypt(b"not for us").decode()
    return {"keys": {"new": k_new.decode(), "old": k_old.decode()}, "tokens": tokens, "foreign_token": foreign,
            "spec": spec_vector(), "invalid": fernet_invalid(k_new)}


def spec_vector():
    """The Fernet spec's generate.json case; _encrypt_from_parts is the library's own writer with a fixed IV and time."""
    token = Fernet(SPEC_SECRET.encode())._encrypt_from_parts(b"hello", SPEC_TIME, bytes(range(16))).decode()
    assert token == SPEC_TOKEN, "python cryptography no longer reproduces the Fernet spec vector"
    return {"secret": SPEC_SECRET, "time": SPEC_TIME, "iv_hex": bytes(range(16)).hex(), "plaintext": "hello", "token": token}


def fernet_invalid(key):
    """Tokens Python rejects. `error`: the rekey error class; `ttl`/`now` when the case needs a TTL check."""
    f = Fernet(key)
    now = int(time.time())
    raw = base64.urlsafe_b64decode(f.encrypt_at_time(b"secret value 0123456789", now))
    signing, encryption = base64.urlsafe_b64decode(key)[:16], base64.urlsafe_b64decode(key)[16:]

    def flip(offset):
        bad = bytearray(raw)
        bad[offset] ^= 0x01
        return b64url(bytes(bad))

    def remac(body):
        """A body signed properly: what a broken writer would produce (gets past the HMAC)."""
        return b64url(body + hmac.new(signing, body, hashlib.sha256).digest())

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(encryption), modes.CBC(iv)).encryptor()
    unpadded = enc.update(b"sixteen byte blk\x00" + b"\x00" * 15) + enc.finalize()  # last byte 0x00: not PKCS7
    header = struct.pack(">BQ", 0x80, now) + iv
    cases = [
        {"desc": "version byte flipped", "token": flip(0), "error": "LegacyFormatError"},
        {"desc": "timestamp flipped", "token": flip(5), "error": "AuthenticationError"},
        {"desc": "IV flipped", "token": flip(12), "error": "AuthenticationError"},
        {"desc": "ciphertext flipped", "token": flip(30), "error": "AuthenticationError"},
        {"desc": "HMAC flipped", "token": flip(len(raw) - 1), "error": "AuthenticationError"},
        {"desc": "truncated", "token": b64url(raw[:60]), "error": "LegacyFormatError"},
        {"desc": "ciphertext not a whole number of blocks", "token": remac(raw[:-32 - 3]), "error": "LegacyFormatError"},
        {"desc": "signed but not PKCS7-padded", "token": remac(header + unpadded), "error": "LegacyFormatError"},
        {"desc": "not base64url", "token": "%%%%" + b64url(raw)[4:], "error": "LegacyFormatError"},
        {"desc": "standard-base64 characters", "token": b64url(raw)[:10] + "+/" + b64url(raw)[12:], "error": "LegacyFormatError"},
        # The spec's invalid.json rejects this; Python's non-strict base64 decoder ignores what follows the padding.
        {"desc": "trailing data after padding", "token": b64url(raw) + "trailing", "error": "LegacyFormatError", "python_accepts": True},
        {"desc": "expired (TTL 60 s, read 120 s later)", "token": b64url(raw), "ttl": 60, "now": now + 120, "error": "LegacyFormatError"},
        {"desc": "from the far future (TTL set, 120 s ahead)", "token": b64url(raw), "ttl": 60, "now": now - 120, "error": "LegacyFormatError"},
    ]
    for c in cases:
        if c.get("python_accepts"):
            assert f.decrypt(c["token"].encode()) == b"secret value 0123456789"
            continue
        try:
            if "ttl" in c:
                f.decrypt_at_time(c["token"].encode(), c["ttl"], c["now"])
            else:
                f.decrypt(c["token"].encode())
        except (InvalidToken, ValueError, TypeError):
            continue
        raise AssertionError("python accepted the invalid Fernet case: " + c["desc"])
    return cases


def everruns_value(kid, kek, plaintext, dek=None, wrap_nonce=None, nonce=None):
    """The everruns EncryptedPayload: DEK wrapped by the KEK (nonce prefixed), value sealed by the DEK, no AAD, standard base64."""
    dek, wrap_nonce, nonce = dek or os.urandom(32), wrap_nonce or os.urandom(12), nonce or os.urandom(12)
    payload = {"version": 1, "alg": "AES-256-GCM", "key_id": kid,
               "dek_wrapped": base64.b64encode(wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, dek, None)).decode(),
               "nonce": base64.b64encode(nonce).decode(),
               "ciphertext": base64.b64encode(AESGCM(dek).encrypt(nonce, plaintext, None)).decode()}
    return json.dumps(payload, separators=(",", ":"))  # serde_json::to_vec writes compact JSON in field order


def json_key_id_vectors():
    keks = {"kek-v1": os.urandom(32), "kek-v2": os.urandom(32)}
    values = [{"plaintext_hex": p.encode().hex(), "value": everruns_value(kid, kek, p.encode())}
              for kid, kek in keks.items() for p in PLAINTEXTS]
    good = json.loads(everruns_value("kek-v1", keks["kek-v1"], b"secret value"))

    def variant(**changes):
        return json.dumps(dict(good, **changes), separators=(",", ":"))

    def flipped(field, offset):
        raw = bytearray(base64.b64decode(good[field]))
        raw[offset] ^= 0x01
        return base64.b64encode(bytes(raw)).decode()

    invalid = [
        {"desc": "dek_wrapped nonce flipped", "value": variant(dek_wrapped=flipped("dek_wrapped", 0)), "error": "AuthenticationError", "part": "data-key"},
        {"desc": "wrapped DEK flipped", "value": variant(dek_wrapped=flipped("dek_wrapped", 20)), "error": "AuthenticationError", "part": "data-key"},
        {"desc": "nonce flipped", "value": variant(nonce=flipped("nonce", 3)), "error": "AuthenticationError", "part": "ciphertext"},
        {"desc": "ciphertext flipped", "value": variant(ciphertext=flipped("ciphertext", 2)), "error": "AuthenticationError", "part": "ciphertext"},
        {"desc": "tag flipped", "value": variant(ciphertext=flipped("ciphertext", -1)), "error": "AuthenticationError", "part": "ciphertext"},
        {"desc": "key_id names the other KEK", "value": variant(key_id="kek-v2"), "error": "AuthenticationError", "part": "data-key"},
        {"desc": "key_id unknown", "value": variant(key_id="kek-v9"), "error": "UnknownKeyError"},
        {"desc": "version 2", "value": variant(version=2), "error": "LegacyFormatError"},
        {"desc": "alg not AES-256-GCM", "value": variant(alg="AES-128-GCM"), "error": "LegacyFormatError"},
        {"desc": "dek_wrapped missing", "value": json.dumps({k: v for k, v in good.items() if k != "dek_wrapped"}), "error": "LegacyFormatError"},
        {"desc": "nonce not base64", "value": variant(nonce="!!not base64!!"), "error": "LegacyFormatError"},
        {"desc": "ciphertext truncated below the tag", "value": variant(ciphertext=base64.b64encode(b"short").decode()), "error": "LegacyFormatError"},
        {"desc": "not JSON", "value": '{"key_id":"kek-v1",', "error": "LegacyFormatError"},
    ]
    for c in invalid:  # Python's AES-GCM must reject every tampered case too
        if c["error"] != "AuthenticationError":
            continue
        p = json.loads(c["value"])
        wrapped = base64.b64decode(p["dek_wrapped"])
        try:
            dek = AESGCM(keks[p["key_id"]]).decrypt(wrapped[:12], wrapped[12:], None)
            AESGCM(dek).decrypt(base64.b64decode(p["nonce"]), base64.b64decode(p["ciphertext"]), None)
        except Exception:
            continue
        raise AssertionError("python accepted the invalid JSON case: " + c["desc"])
    return {"keks": {k: "%s:%s" % (k, base64.b64encode(v).decode()) for k, v in keks.items()}, "values": values, "invalid": invalid}


def blind_index(key, table, column, value):
    col_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=("rekey-bidx|%s|%s" % (table, column)).encode()).derive(key)
    return hmac.new(col_key, value.encode(), hashlib.sha256).hexdigest()


def blind_index_vectors():
    key = os.urandom(32)
    cases = [{"table": t, "column": c, "value": v, "index": "bidx-v1:" + blind_index(key, t, c, v)}
             for t, c, v in [("users", "email", "alice@example.com"), ("users", "phone", "alice@example.com"),
                             ("t", "c", ""), ("users", "email", "pässwörd ✓ 🔑")]]
    return {"key": "bidx-v1:" + base64.b64encode(key).decode(), "cases": cases}


def main():
    out = {"generator": "python cryptography %s" % __import__("cryptography").__version__,
           "generated_at": int(time.time()),
           "fernet": fernet_vectors(), "json_key_id": json_key_id_vectors(),
           "blind_index": blind_index_vectors()}
    if "--stdout" in sys.argv:
        print(json.dumps(out))
        return
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "vectors", "legacy", "legacy-vectors.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
