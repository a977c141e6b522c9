"""Progress bars and warnings on stderr: bars are silenced by --quiet, warnings never are."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str, quiet: bool) -> tqdm:
    """A bar with count, rate and ETA; a no-op bar when `quiet`."""
    return tqdm(total=total, desc=desc, unit=unit, disable=quiet, dynamic_ncols=True, leave=False)


def warn(message: str) -> None:
    """Prints `warning: message` on its own stderr line, above any progress bar in use."""
    tqdm.write(f"warning: {message}", file=sys.stderr)
