"""OpenMP's waiting policy for a t-SNE map while another process keeps a core busy.

``make test`` runs two pytest workers on two cores. scikit-learn's t-SNE (the cluster map in
every cluster and summary materialization) runs its gradient on OpenMP threads, and libgomp's
threads spin for a while after each of the ~1,000 parallel steps: with the other core busy
that spinning is CPU taken from the other worker. ``conftest.py`` sets
``OMP_WAIT_POLICY=passive``. This measures one 1,000-point projection
(``outputs/projection.project``, synthetic vectors: speed only) in a fresh process, with
libgomp's default (the yardstick) and passive, the machine idle and with one core kept busy by
a second process; the picture's checksum shows the result does not change.

    .venv/bin/python benchmarks/omp_wait.py [--repeat 3]
"""

import argparse
import json
import os
import subprocess
import sys
from contextlib import contextmanager

import numpy as np

CHILD = """
import json, time
import numpy as np
from lmsys_pipeline.outputs.projection import project
rng = np.random.default_rng(0)
centres = rng.standard_normal((20, 384))
x = centres[rng.integers(20, size=1000)] + rng.standard_normal((1000, 384)) * 0.8
x /= np.linalg.norm(x, axis=1, keepdims=True)
project(x[:50], "tsne", 1)  # imports and first-call costs outside the measurement
cpu, wall = time.process_time(), time.perf_counter()
xy = project(x, "tsne", 42)
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "checksum": float(np.abs(xy).sum())}))
"""


@contextmanager
def one_core_busy(busy: bool):
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        yield
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def measure(policy: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    print("| other core | OMP_WAIT_POLICY | CPU s | wall s | checksum |")
    print("|---|---|---:|---:|---|")
    for busy in (False, True):
        for policy in (None, "passive"):
            with one_core_busy(busy):
                runs = [measure(policy) for _ in range(args.repeat)]
            print(
                f"| {'busy' if busy else 'idle'} | {policy or 'unset (libgomp default)'} "
                f"| {np.median([r['cpu'] for r in runs]):.1f} "
                f"| {np.median([r['wall'] for r in runs]):.1f} "
                f"| {runs[0]['checksum']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
