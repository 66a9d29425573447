#!/usr/bin/env python3
"""Known-answer vectors for rekey's legacy readers, made by an independent
implementation (Python `cryptography`), never by the code under test.

  python3 scripts/gen-legacy-vectors.py            # writes test/vectors/legacy/*.json
  python3 scripts/gen-legacy-vectors.py --stdout   # prints fresh vectors (used at test time)

Test keys only: every key here is generated for the vectors and protects nothing.
"""
import base64, json, os, sys, time
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PLAINTEXTS = ["", "sk-live-1234567890", "pässwörd ✓ 🔑", "x" * 1024]


def fernet_vectors():
    k_new, k_old = Fernet.generate_key(), Fernet.generate_key()
    f_new, f_old = Fernet(k_new), Fernet(k_old)
    tokens = []
    for p in PLAINTEXTS:
        tokens.append({"plaintext_hex": p.encode().hex(), "key": "new", "token": f_new.encrypt(p.encode()).decode()})
        tokens.append({"plaintext_hex": p.encode().hex(), "key": "old", "token": f_old.encrypt(p.encode()).decode()})
    # MultiFernet writes with the first key and reads with any.
    multi = MultiFernet([f_new, f_old])
    tokens.append({"plaintext_hex": b"rotated".hex(), "key": "new", "token": multi.rotate(f_old.encrypt(b"rotated")).decode()})
    unrelated = Fernet(Fernet.generate_key()).encrypt(b"not for us").decode()
    return {"keys": {"new": k_new.decode(), "old": k_old.decode()}, "tokens": tokens, "foreign_token": unrelated}


def json_key_id_vectors():
    keks = {"kek-v1": os.urandom(32), "kek-v2": os.urandom(32)}
    values = []
    for kid, kek in keks.items():
        for p in PLAINTEXTS:
            dek, wrap_nonce, nonce = os.urandom(32), os.urandom(12), os.urandom(12)
            dek_wrapped = wrap_nonce + AESGCM(kek).encrypt(wrap_nonce, dek, None)
            ct = AESGCM(dek).encrypt(nonce, p.encode(), None)
            env = {"version": 1, "alg": "AES-256-GCM", "key_id": kid,
                   "dek_wrapped": base64.b64encode(dek_wrapped).decode(),
                   "nonce": base64.b64encode(nonce).decode(),
                   "ciphertext": base64.b64encode(ct).decode()}
            values.append({"plaintext_hex": p.encode().hex(), "value": json.dumps(env, separators=(",", ":"))})
    return {"keks": {k: "%s:%s" % (k, base64.b64encode(v).decode()) for k, v in keks.items()}, "values": values}


def blind_index_vectors():
    import hmac, hashlib
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives import hashes
    key = os.urandom(32)
    cases = []
    for table, column, value in [("users", "email", "alice@example.com"), ("users", "phone", "alice@example.com"), ("t", "c", "")]:
        col_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=("rekey-bidx|%s|%s" % (table, column)).encode()).derive(key)
        cases.append({"table": table, "column": column, "value": value,
                      "index": "bidx-v1:" + hmac.new(col_key, value.encode(), hashlib.sha256).hexdigest()})
    return {"key": "bidx-v1:" + base64.b64encode(key).decode(), "cases": cases}


def main():
    out = {"generator": "python cryptography %s" % __import__("cryptography").__version__,
           "generated_at": int(time.time()),
           "fernet": fernet_vectors(), "json_key_id": json_key_id_vectors(),
           "blind_index": blind_index_vectors()}
    if "--stdout" in sys.argv:
        print(json.dumps(out))
        return
    root = os.path.join(os.path.dirname(__file__), "..", "test", "vectors", "legacy")
    with open(os.path.join(root, "legacy-vectors.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
