"""Canonical JSON for rows read from a Delta table, shared by every reader in read_lake.py.

One encoding for all readers and the Rust side (tests/it/lake_support.rs) to compare:
decimals as their exact text with the column's scale ("1.500000000000000000"), timestamps
as integer microseconds since the UNIX epoch (UTC), dates as "YYYY-MM-DD", lists as
arrays, NULL as null. Pure Python: imported by both virtual environments.
"""

import datetime
import decimal
import json
import sys

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICRO = datetime.timedelta(microseconds=1)


def canon(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            # Only a timestamp without time zone arrives naive; read it as UTC (the
            # schema line tells the test which type the column had).
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - _EPOCH) // _MICRO
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value // _MICRO
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [canon(v) for v in value]
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"no canonical form for {type(value).__name__}: {value!r}")


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True, separators=(",", ":")))
    sys.stdout.write("\n")
