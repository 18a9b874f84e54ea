"""`python -m nir_bridge export|import ...`: the same options as `delaysnn nir`."""

from __future__ import annotations

import argparse
import sys

from corespec.errors import UserError

from .cli import __doc__ as DOC, add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and report a user's mistake as one line with exit status 2 (as delaysnn does)."""
    parser = argparse.ArgumentParser(prog="python -m nir_bridge", description=DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        print(f"nir_bridge: error: {e}", file=sys.stderr)
        return e.exit_status


if __name__ == "__main__":
    sys.exit(main())
