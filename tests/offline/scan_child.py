"""A station process for the kill -9 test: scans codes offline and says which verdicts it showed.

Run as ``python -m tests.offline.scan_child SETTINGS_JSON``. It prints READY once
built, then ``SHOWN <client id>`` after each verdict, flushed, until killed.
"""

from __future__ import annotations

import itertools
import json
import sys
import uuid
from pathlib import Path

from station.bootstrap import build_services
from station.config import Settings
from station.db import DatabaseSettings
from station.domain import Mode
from station.offline.settings import OfflineSettings
from station.services.results import StationContext


def main() -> None:
    args = json.loads(sys.argv[1])
    settings = Settings(
        database=DatabaseSettings(url=args["url"], schema=args["schema"], connect_timeout_s=2),
        conference=args["conference"],
        station=args["station"],
        mode=Mode.CHECKIN,
        offline=OfflineSettings(
            enabled=True, threshold_s=0.5, probe_s=0.2, directory=Path(args["directory"])
        ),
    )
    services = build_services(settings)
    ctx = StationContext(settings.conference, settings.station)
    print("READY", flush=True)
    for code in itertools.cycle(args["codes"]):
        client_id = uuid.uuid4()
        services.scans.scan(ctx, code, client_id=client_id)
        print(f"SHOWN {client_id}", flush=True)


if __name__ == "__main__":
    main()
