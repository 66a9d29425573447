"""Tests of rekey_rk1 against rekey's known-answer vectors (test/vectors/envelope-v1.json).

    python3 -m unittest discover -s clients/python -v

The jest test test/vectors/python-client.test.ts runs this in CI and also
crosses values with the TypeScript library in both directions.
"""
import base64
import json
import os
import unittest

import rekey_rk1 as rk1

VECTORS = os.environ.get("REKEY_VECTORS") or os.path.join(os.path.dirname(__file__), "..", "..", "test", "vectors", "envelope-v1.json")

ERRORS = {
    "EnvelopeFormatError": rk1.EnvelopeFormatError,
    "UnsupportedVersionError": rk1.UnsupportedVersionError,
    "UnknownKeyError": rk1.UnknownKeyError,
    "AuthenticationError": rk1.AuthenticationError,
}


def ctx(c):
    return rk1.Context(c["table"], c["column"], c["rowId"], c.get("tenant"))


class Vectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(VECTORS) as f:
            cls.data = json.load(f)
        cls.keys = {k["id"]: base64.b64decode(k["base64"]) for k in cls.data["keys"]}

    def keyring(self, without=()):
        keys = {k: v for k, v in self.keys.items() if k not in without}
        return rk1.Keyring(keys, next(iter(keys)))

    def test_every_vector_decrypts_in_text_and_binary_form(self):
        ring = self.keyring()
        self.assertGreater(len(self.data["vectors"]), 0)
        for v in self.data["vectors"]:
            with self.subTest(v["name"]):
                want = bytes.fromhex(v["plaintextHex"])
                self.assertEqual(ring.decrypt(v["envelopeText"], ctx(v["context"])), want)
                self.assertEqual(ring.decrypt(bytes.fromhex(v["envelopeHex"]), ctx(v["context"])), want)
                self.assertEqual(rk1.peek_key_id(v["envelopeText"]), v["keyId"])

    def test_every_negative_vector_is_refused_with_rekeys_error(self):
        self.assertGreater(len(self.data["negative"]), 0)
        for n in self.data["negative"]:
            with self.subTest(n["name"]):
                expected = n["expect"]["class"]
                # No catalog here: a destroyed key is one the application no longer holds.
                destroyed = n.get("destroyedKeys", [])
                if expected == "KeyDestroyedError":
                    expected = "UnknownKeyError"
                ring = self.keyring(without=destroyed)
                value = n["envelopeText"] if "envelopeText" in n else bytes.fromhex(n["envelopeHex"])
                with self.assertRaises(ERRORS[expected]) as caught:
                    ring.decrypt(value, ctx(n["context"]))
                if "part" in n["expect"]:
                    self.assertEqual(caught.exception.part, n["expect"]["part"])
                if "reason" in n["expect"]:
                    self.assertEqual(caught.exception.reason, n["expect"]["reason"])


class RoundTrip(unittest.TestCase):
    def setUp(self):
        self.ring = rk1.Keyring({"kek-v1": os.urandom(32), "kek-v2": os.urandom(32)}, "kek-v2")
        self.where = rk1.Context("users", "email", "42", "acme")

    def test_round_trip_text_and_binary_under_the_primary(self):
        text = self.ring.encrypt("alice@example.com", self.where)
        self.assertTrue(text.startswith("rk1:AQZrZWstdjI"))  # version 1, key id kek-v2
        self.assertEqual(self.ring.decrypt(text, self.where), b"alice@example.com")
        raw = self.ring.encrypt(b"", self.where, key_id="kek-v1", output="binary")
        self.assertEqual(rk1.peek_key_id(raw), "kek-v1")
        self.assertEqual(self.ring.decrypt(raw, self.where), b"")

    def test_a_value_moved_to_another_row_column_or_tenant_fails(self):
        text = self.ring.encrypt("secret", self.where)
        for other in (rk1.Context("users", "email", "43", "acme"), rk1.Context("users", "name", "42", "acme"), rk1.Context("users", "email", "42")):
            with self.assertRaises(rk1.AuthenticationError) as caught:
                self.ring.decrypt(text, other)
            self.assertEqual(caught.exception.part, "data-key")

    def test_keys_from_the_environment_and_errors_never_hold_key_material(self):
        k2, k1 = os.urandom(32), os.urandom(32)
        env = {"SECRETS_ENCRYPTION_KEY": "kek-v2:" + base64.b64encode(k2).decode(), "SECRETS_ENCRYPTION_KEY_PREVIOUS": "kek-v1:" + base64.b64encode(k1).decode()}
        ring = rk1.Keyring.from_env(env)
        self.assertEqual(ring.primary, "kek-v2")
        self.assertEqual(sorted(ring.key_ids()), ["kek-v1", "kek-v2"])
        with self.assertRaises(ValueError) as caught:
            rk1.Keyring.from_env({"SECRETS_ENCRYPTION_KEY": "kek-v2:" + base64.b64encode(k2[:16]).decode()})
        self.assertNotIn(base64.b64encode(k2[:16]).decode(), str(caught.exception))
        with self.assertRaises(rk1.UnknownKeyError):
            rk1.Keyring({"kek-v9": k1}, "kek-v9").decrypt(ring.encrypt("x", self.where), self.where)


if __name__ == "__main__":
    unittest.main()
