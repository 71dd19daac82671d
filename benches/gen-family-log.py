#!/usr/bin/env python3
"""A log that prints registered values among ordinary lines.

    benches/gen-family-log.py SECRETS CORPUS MIB > log

Copies CORPUS (the standard corpus, `../shared/bench/gen-corpus.py`),
from its start and over again, until MIB MiB are written, with a line
`token: FORM` after every 60,000 bytes: FORM is a value of SECRETS (one
per line) picked at random, raw, in Base64 (as `base64 -w0` prints it)
or in hex (as `xxd -p` would, unwrapped). Deterministic. The README's
figures for families of long values use it with `benches/gen-families.py`.
"""
import base64
import random
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    secrets = [s for s in open(sys.argv[1], "rb").read().split(b"\n") if s]
    limit = int(sys.argv[3]) << 20
    rnd = random.Random(5)
    forms = [lambda v: v, base64.b64encode, lambda v: v.hex().encode()]
    out = sys.stdout.buffer
    written = 0
    with open(sys.argv[2], "rb") as corpus:
        while written < limit:
            chunk = corpus.read(60000)
            if not chunk:
                corpus.seek(0)
                continue
            line = b"token: " + rnd.choice(forms)(rnd.choice(secrets)) + b"\n"
            out.write(chunk)
            out.write(line)
            written += len(chunk) + len(line)


if __name__ == "__main__":
    main()
