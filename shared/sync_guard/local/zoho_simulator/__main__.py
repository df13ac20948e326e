"""Run the Zoho simulator on its own: ``python -m sync_guard.local.zoho_simulator --port 8765``.

Prints the ``SYNC_GUARD_*`` variables that point the guard at it, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from sync_guard.local.zoho_simulator.faults import FaultConfig
from sync_guard.local.zoho_simulator.server import ZohoSimulator


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, start the simulator, wait for a stop signal."""
    parser = argparse.ArgumentParser(
        description="A local fake of Zoho's accounts server, CRM v8 and Books v3."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of API calls that fail")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    faults = FaultConfig(rate=args.fault_rate, seed=args.seed)
    with ZohoSimulator(host=args.host, port=args.port, seed=args.seed, faults=faults) as sim:
        print(f"Zoho simulator listening on {sim.url}", flush=True)
        for key, value in sim.settings_env().items():
            print(f"export {key}={value}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
