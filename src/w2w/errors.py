"""Expected failures: bad input the user can fix is one line and a non-zero exit, never a traceback.

Library code raises `InputError` (or a subclass) for input it refuses: a corrupt shard, an image
that cannot be read, an --out that would lose files. The CLI and every stage script print it as
`error: <message>` and exit 1; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class InputError(ValueError):
    """Input the user can fix; the message names the file, key or value at fault."""


def run_stage(main: Callable[[], None]) -> None:
    """A stage script's entry point: InputError -> one line on stderr and exit 1."""
    try:
        main()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
