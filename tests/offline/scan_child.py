"""A station process for the kill -9 test: scans codes offline and says which verdicts it showed.

Run as ``python -m tests.offline.scan_child SETTINGS_JSON``. It prints READY once
built, then ``SHOWN <client id>`` after each verdict, flushed, until killed. With
``"drain": true`` it starts the station's offline keeper instead and prints DRAINED
once the journal is replayed.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
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
    if args.get("drain"):  # restarted with the link back: replay, say so, stop
        offline = services.offline
        assert offline is not None
        offline.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = offline.link.state()
            if state.online and state.waiting == 0:
                print("DRAINED", flush=True)
                break
            time.sleep(0.05)
        services.dispose()
        return
    print("READY", flush=True)
    for code in itertools.cycle(args["codes"]):
        client_id = uuid.uuid4()
        services.scans.scan(ctx, code, client_id=client_id)
        print(f"SHOWN {client_id}", flush=True)


if __name__ == "__main__":
    main()
