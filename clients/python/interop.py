"""JSON-over-stdin bridge used by the jest interop test (test/vectors/python-client.test.ts).

  {"op": "encrypt", "keys": {id: b64}, "primary": id, "items": [{"plaintextHex", "context", "output"}]} -> {"values": [text or {"hex"}]}
  {"op": "decrypt", "keys": {id: b64}, "primary": id, "items": [{"value" | "hex", "context"}]} -> {"plaintextsHex": [...]}
"""
import base64
import json
import sys

import rekey_rk1 as rk1


def ctx(c):
    return rk1.Context(c["table"], c["column"], c["rowId"], c.get("tenant"))


def main():
    req = json.load(sys.stdin)
    ring = rk1.Keyring({k: base64.b64decode(v) for k, v in req["keys"].items()}, req["primary"])
    if req["op"] == "encrypt":
        out = []
        for it in req["items"]:
            v = ring.encrypt(bytes.fromhex(it["plaintextHex"]), ctx(it["context"]), output=it.get("output", "text"))
            out.append({"hex": v.hex()} if isinstance(v, bytes) else v)
        json.dump({"values": out}, sys.stdout)
    elif req["op"] == "decrypt":
        out = []
        for it in req["items"]:
            value = bytes.fromhex(it["hex"]) if "hex" in it else it["value"]
            out.append(ring.decrypt(value, ctx(it["context"])).hex())
        json.dump({"plaintextsHex": out}, sys.stdout)
    else:
        raise SystemExit(f"unknown op {req['op']!r}")


if __name__ == "__main__":
    main()
