"""Print the fingerprint of a lattice store (max E22, min nu21, max K_V/G_V, E11 and strut quantiles,
distinct topologies): ``python scripts/fingerprint.py STORE [--json]``.

The numbers come from :func:`trussvae.data.fingerprint.fingerprint`; docs/design_space.md compares
them for our generator, the paper protocol and the paper's text.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv=None) -> int:
    from trussvae.data.fingerprint import fingerprint, format_fingerprint
    from trussvae.io.store import StoreError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", help="a lattice store directory with linear FE labels")
    parser.add_argument("--json", action="store_true", help="print the fingerprint as JSON")
    args = parser.parse_args(argv)
    try:
        fp = fingerprint(args.store)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(fp, indent=1) if args.json else format_fingerprint(fp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
