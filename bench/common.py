"""What every benchmark returns, and small helpers they share (free ports, wrk, RSS)."""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass


@dataclass
class Result:
    """One line of ``bench/run.py`` output."""

    name: str
    value: float
    unit: str
    baseline: float | None
    target: str
    ok: bool

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return round(self.value / self.baseline, 3)  # type: ignore[operator]

    def to_json(self) -> str:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["value"] = round(self.value, 3)
        if self.baseline is not None:
            data["baseline"] = round(self.baseline, 3)
        keys = ("name", "value", "unit", "baseline", "ratio", "target", "ok")
        ordered = {k: data[k] for k in keys}
        return json.dumps(ordered)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
