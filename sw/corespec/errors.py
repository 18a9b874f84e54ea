"""The one exception class a command-line tool reports as a user's mistake.

Every error that a user can cause by what they give us (a missing or malformed file, an impossible
option, an image that does not fit the device) derives from `UserError`. The `delaysnn` command
prints such an error as one line (`delaysnn: error: <message>`) and exits with status 2; anything
else is a bug in the kit and keeps its traceback. The message names the file or field and what is
expected, so no traceback is needed to act on it.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user gave; the message alone says what to fix."""

    exit_status = 2


def run_parsed(parser, run, argv=None) -> int:
    """`python -m <module>`: parse `argv` with the module's own parser and `run` it; a user's
    mistake becomes argparse's usage error (one line, exit 2), as `delaysnn` reports it."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as e:
        parser.error(str(e))
