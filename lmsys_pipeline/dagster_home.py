"""The Dagster instance the CLI and scripts use: $DAGSTER_HOME, else a folder beside the DB.

Runs launched by ``lmsys`` land in this instance, so they show up in the UI's run history when
``dagster dev`` uses the same DAGSTER_HOME (``make dev`` does).
"""

import os
import shutil
from importlib import resources
from pathlib import Path

DEFAULT_DAGSTER_HOME = "~/.lmsys-query-analysis/dagster"


def instance_settings_path() -> Path:
    return Path(str(resources.files("lmsys_pipeline") / "instance.yaml"))


def ensure_dagster_home(path: str | os.PathLike[str] | None = None) -> Path:
    """The instance folder (``path``, $DAGSTER_HOME, else the default), created with the
    project's dagster.yaml if it has none."""
    home = Path(path or os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser()
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        shutil.copyfile(instance_settings_path(), settings)
    return home
