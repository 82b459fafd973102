"""``python -m results_format``: write the JSON Schema generated from the records
(:data:`results_format.json_schema.SCHEMA_PATH`); ``--check``: exit 1 when the committed file
is stale (it differs from what the records generate), 0 when it is current."""
from __future__ import annotations

import argparse
import sys

from results_format.json_schema import SCHEMA_PATH, text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m results_format", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when the committed schema differs from the generated one; write nothing")
    args = parser.parse_args(argv)
    want = text()
    have = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else None
    if args.check:
        if have != want:
            print(f"results_format: {SCHEMA_PATH} is stale: run python -m results_format to regenerate it",
                  file=sys.stderr)
            return 1
        return 0
    if have != want:
        SCHEMA_PATH.write_text(want, encoding="utf-8")
        print(f"results_format: wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
