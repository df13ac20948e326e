"""Cold start of every function: its handler's import (module-level init included) against a baseline.

    .venv/bin/python benchmarks/cold_start.py [--runs 5]

Each handler is imported as Lambda imports it (``tests/support/lambda_imports.py``): a fresh interpreter,
the function's folder and the layer on the path, the template's environment with ``LAMBDA_TASK_ROOT`` set
(so Powertools' Tracer is on and patches what it patches when deployed), and every package the layer does
not ship refused. The import is timed inside the child, interpreter start-up excluded: it covers the
imports and the module-level work (settings validated, clients built). The baselines are what any function
here pays anyway: ``boto3`` and ``aws_lambda_powertools`` imported, then also Logger, Tracer and Metrics
built. Runs alternate function by function so that the machine's load weighs on all alike; medians are
reported, wall and CPU time (CPU time moves less with other processes' load) and peak memory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from tests.support.lambda_imports import handlers, imported_as_lambda  # noqa: E402

BASELINES = {
    "baseline: boto3 + powertools": "import boto3\nimport aws_lambda_powertools\n",
    "baseline + Logger/Tracer/Metrics": (
        "import boto3\nfrom aws_lambda_powertools import Logger, Metrics, Tracer\n"
        "logger, tracer, metrics = Logger(), Tracer(), Metrics()\n"
    ),
}


def measure(runs: int) -> dict[str, list[dict[str, float]]]:
    """Per handler (and baseline), the figures of ``runs`` fresh imports, alternated."""
    samples: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        targets: list[tuple[str, str, Path]] = []
        for number, (label, source) in enumerate(BASELINES.items()):
            path = Path(folder) / f"baseline{number}" / "app.py"
            path.parent.mkdir()
            path.write_text(source, encoding="utf-8")
            targets.append((label, "IngestFunction", path))
        targets += [(name, name, handler) for name, handler in handlers()]
        for _ in range(runs):
            for label, function, handler in targets:
                figures = imported_as_lambda(function, handler)
                samples.setdefault(label, []).append(
                    {key: figures[key] for key in ("wall", "cpu", "max_rss_kib")}
                    | {"modules": len(figures["modules"])}
                )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description="cold start of every function against a baseline")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per function")
    args = parser.parse_args()

    started = time.perf_counter()
    samples = measure(args.runs)
    base = statistics.median(s["cpu"] for s in samples["baseline + Logger/Tracer/Metrics"])
    print(f"Cold import as Lambda imports it (median of {args.runs} fresh processes, start-up excluded)")
    print(f"  {'':34} {'wall ms':>8} {'CPU ms':>8} {'CPU over base':>13} {'peak MiB':>9} {'modules':>8}")
    for label, runs in samples.items():
        wall = statistics.median(s["wall"] for s in runs)
        cpu = statistics.median(s["cpu"] for s in runs)
        rss = statistics.median(s["max_rss_kib"] for s in runs) / 1024
        modules = statistics.median(s["modules"] for s in runs)
        over = "" if label.startswith("baseline") else f"{(cpu - base) * 1000:+10.0f} ms"
        print(f"  {label:34} {wall * 1000:8.0f} {cpu * 1000:8.0f} {over:>13} {rss:9.1f} {modules:8.0f}")
    print("  (CPU over base: CPU beyond the second baseline, what a function's own imports and init cost)")
    print(f"(benchmark took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
