"""Run one import in this process and report progress on stdout (killed by the fault test).

    python -m tests.ingest.batch.kill_target DATABASE_URL INTEGRATION_ID FILE POLICY CHUNK_ROWS
"""

from __future__ import annotations

import sys
from pathlib import Path

from clickledger.clock import SystemClock
from clickledger.ingest.batch.kinds import FileKind, Policy
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.ingest.batch.profiles import Profile
from clickledger.ingest.batch.runner import ImportRequest, run_import
from clickledger.store.engine import create_engine


def main() -> None:
    url, integration_id, file, policy, chunk_rows = sys.argv[1:6]
    engine = create_engine(url)
    request = ImportRequest(Path(file).read_bytes(), "big.csv", FileKind.DEPOSITS, integration_id,
                            Profile(), Policy(policy))

    def progress(done: int, total: int) -> None:
        print(f"progress {done} {total}", flush=True)

    run_import(engine, SystemClock(), 30, request, ImportLimits(chunk_rows=int(chunk_rows)),
               progress)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
