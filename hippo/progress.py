"""Progress bars on stderr (tqdm), silenced by --quiet."""

from __future__ import annotations

from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str, quiet: bool) -> tqdm:
    """A bar with count, rate and ETA; a no-op bar when `quiet`."""
    return tqdm(total=total, desc=desc, unit=unit, disable=quiet, dynamic_ncols=True, leave=False)
