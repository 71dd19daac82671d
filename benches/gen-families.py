#!/usr/bin/env python3
"""Families of secrets that share a long beginning or end, one per line.

    benches/gen-families.py KIND COUNT > secrets.txt

KIND is one of:
  hs256     HS256 JWTs (a 36-byte header in common)
  rs256     RS256 JWTs with `kid` and `x5t` (a 156-byte header), varied
            claims
  rs256-job RS256 JWTs of one job: the same `sub` and `sha`, so that only
            `jti`, `iat`, `exp` and the signature differ
  tail      values of 109 bytes: 20 random, then an 89-byte tail in common
  head      values of 109 bytes: an 89-byte head in common, then 20 random
  big-jwt   RS256 JWTs of about 3 KB of one job (150 `groups` claims):
            their Base64 and hex forms pass 4 KiB, the long-variant
            searcher's
  long-head values of 4,097 bytes: a 4,089-byte head in common, then 8
            random

Deterministic. The README's "Families: windows and crowds" figures
come from these with `benches/cpu.py` and start-up runs on empty input.
The tokens are not signed with any real key.
"""
import base64
import hashlib
import hmac
import json
import random
import string
import sys


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def hs256(rnd, i):
    header = b64(compact({"alg": "HS256", "typ": "JWT"}))
    claims = {
        "sub": "%016x" % rnd.getrandbits(64),
        "iat": 1700000000 + rnd.randrange(10**6),
        "jti": "%032x" % rnd.getrandbits(128),
    }
    body = header + "." + b64(compact(claims))
    return body + "." + b64(hmac.new(b"k", body.encode(), hashlib.sha256).digest())


RS256_HEADER = b64(compact({
    "alg": "RS256",
    "typ": "JWT",
    "kid": "78167F727DEC5D801DD1C8784C704A1C880EC0E1",
    "x5t": "eBZ_cn3sXYAd0ch4THBKHIgOwOE",
}))


def rs256(rnd, i, job):
    jti = "%08x-%04x-4%03x-a%03x-%012x" % tuple(rnd.getrandbits(b) for b in (32, 16, 12, 12, 48))
    if job:
        sub, sha = "repo:octo-org/octo-repo:ref:refs/heads/main", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"
    else:
        sub = "repo:org%d/repo-%s:ref:refs/heads/main" % (rnd.randrange(100), "x" * rnd.randrange(12))
        sha = "%040x" % rnd.getrandbits(160)
    claims = {
        "jti": jti, "sub": sub, "aud": "https://github.com/org", "ref": "refs/heads/main",
        "sha": sha, "iss": "https://token.actions.githubusercontent.com",
        "iat": 1700000000 + i, "exp": 1700000300 + i,
    }
    signature = b64(bytes(rnd.getrandbits(8) for _ in range(256)))
    return RS256_HEADER + "." + b64(compact(claims)) + "." + signature


def big_jwt(rnd, i):
    claims = {
        "iss": "https://issuer.example.com",
        "groups": ["group-%04d" % g for g in range(150)],
        "jti": "%032x" % rnd.getrandbits(128),
        "iat": 1700000000 + i,
    }
    signature = b64(bytes(rnd.getrandbits(8) for _ in range(256)))
    return RS256_HEADER + "." + b64(compact(claims)) + "." + signature


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    kind, count = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(1)
    alnum = string.ascii_letters + string.digits
    common = "".join(rnd.choice(string.ascii_letters) for _ in range(89))
    word = lambda: "".join(rnd.choice(alnum) for _ in range(20))
    long_common = "".join(rnd.choice(alnum) for _ in range(4089))
    make = {
        "hs256": lambda i: hs256(rnd, i),
        "rs256": lambda i: rs256(rnd, i, False),
        "rs256-job": lambda i: rs256(rnd, i, True),
        "tail": lambda i: word() + common,
        "head": lambda i: common + word(),
        "big-jwt": lambda i: big_jwt(rnd, i),
        "long-head": lambda i: long_common + "".join(rnd.choice(alnum) for _ in range(8)),
    }.get(kind)
    if make is None:
        sys.exit(__doc__)
    out = sys.stdout
    for i in range(count):
        out.write(make(i) + "\n")


if __name__ == "__main__":
    main()
