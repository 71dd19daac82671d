#!/usr/bin/env python3
"""A CI log dense with detector anchors, for the detection benchmark.

    benches/gen-dense.py OUT --mib 256

Every line has an `https://` URL, most have `?`/`&` parameters (a third
of them a `sig=` value, as signed storage URLs print), and one line in
four a Base64 JSON blob starting `eyJ` that is not a JWT. Deterministic.
Nothing in it is a credential but the `sig=` values, which the
`url-credentials` detector masks (and registers, up to its cap).
"""
import argparse, base64, json, random, string

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--mib", type=int, default=256)
args = ap.parse_args()
rng = random.Random(7)
alnum = string.ascii_letters + string.digits
words = "build test fetch cache artifact upload step job runner checkout".split()
target = args.mib << 20
with open(args.out, "w") as out:
    size = 0
    n = 0
    while size < target:
        n += 1
        path = "/".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        url = f"https://storage.example.com/{path}?id={rng.randrange(10**6)}&page={n % 50}"
        if n % 3 == 0:
            url += "&sig=" + "".join(rng.choice(alnum) for _ in range(32))
        line = f"2026-11-25T10:{n // 60 % 60:02d}:{n % 60:02d}Z GET {url} -> 200"
        if n % 4 == 0:
            blob = json.dumps({"step": rng.choice(words), "n": n, "ok": True})
            line += " meta=" + base64.b64encode(blob.encode()).decode()
        line += "\n"
        out.write(line)
        size += len(line)
