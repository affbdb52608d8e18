"""``make dev`` starts the Dagster UI and the explorer side by side (and stops both), and
``make demo`` ends by saying how to open the explorer: the scripts run for real, with stand-in
``lmsys`` and ``dagster`` commands (``LMSYS_BIN``) that record how they were called."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LMSYS = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$RECORDS/lmsys.calls"
if [ "$1" = serve ]; then
  printf '%s %s\\n' "$$" "$LMSYS_DAGSTER_URL" > "$RECORDS/serve"
  exec sleep 300
fi
echo "fakerun-kmeans-40 a stand-in run"
"""
DAGSTER = """#!/usr/bin/env bash
printf '%s %s\\n' "$*" "$LMSYS_EXPLORER_URL" > "$RECORDS/dagster"
until [ -f "$RECORDS/serve" ]; do sleep 0.05; done
"""


def _stand_ins(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("lmsys", LMSYS), ("dagster", DAGSTER)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    records = tmp_path / "records"
    records.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMSYS_", "DAGSTER_"))}
    return {
        **env,
        "LMSYS_BIN": str(bin_dir),
        "RECORDS": str(records),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }


@pytest.mark.subprocess
def test_make_dev_starts_dagster_and_the_explorer_and_stops_both(tmp_path):
    env = _stand_ins(tmp_path)
    done = subprocess.run(
        ["bash", "scripts/dev.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    records = Path(env["RECORDS"])
    assert (records / "lmsys.calls").read_text() == "serve --host 127.0.0.1 --port 8000\n"
    pid, dagster_url = (records / "serve").read_text().split()
    assert dagster_url == "http://127.0.0.1:3000"  # the explorer links to this Dagster UI
    # Dagster's materializations link to this explorer (ExplorerResource reads the variable)
    assert (records / "dagster").read_text().split() == [
        *["dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", "3000"],
        "http://127.0.0.1:8000",
    ]
    assert not Path(f"/proc/{pid}").exists()  # Dagster stopped: the explorer was stopped too
    assert "explorer: http://127.0.0.1:8000" in done.stdout


@pytest.mark.subprocess
def test_make_demo_ends_by_saying_how_to_open_the_explorer(tmp_path):
    env = {**_stand_ins(tmp_path), "EXPLORER_PORT": "8123"}
    done = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-3:]
    assert "make dev" in last[0]
    assert last[1].endswith("lmsys serve --port 8123")
    assert "http://127.0.0.1:8123/runs/fakerun-kmeans-40" in last[2]
