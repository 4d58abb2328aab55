"""Time-ordered identifiers (UUIDv7) for every primary key.

Random UUIDv4 keys halve insert speed on B-trees; UUIDv7 keys sort by creation
time, so inserts append.
"""

import uuid_utils


def new_id() -> str:
    """Return a new UUIDv7 in canonical text form."""
    return str(uuid_utils.uuid7())
