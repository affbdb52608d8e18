"""The Dagster instance the CLI and scripts use: $DAGSTER_HOME, else a folder beside the DB.

Runs launched by ``lmsys`` land in this instance, so they show up in the UI's run history when
``dagster dev`` uses the same DAGSTER_HOME (``make dev`` does).
"""

import os
import shutil
from importlib import resources
from pathlib import Path

from lmsys_pipeline.errors import UserError

DEFAULT_DAGSTER_HOME = "~/.lmsys-query-analysis/dagster"


FIX = "make it a writable folder, or set DAGSTER_HOME to one (Dagster records its runs there)"


class DagsterHomeError(UserError):
    """The Dagster instance folder cannot be used, in one sentence."""


def instance_settings_path() -> Path:
    return Path(str(resources.files("lmsys_pipeline") / "instance.yaml"))


def ensure_dagster_home(path: str | os.PathLike[str] | None = None) -> Path:
    """The instance folder (``path``, $DAGSTER_HOME, else the default), created with the
    project's dagster.yaml if it has none."""
    home = Path(path or os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser()
    home = home.resolve()
    if home.exists() and not home.is_dir():
        raise DagsterHomeError(f"DAGSTER_HOME {home} is a file: {FIX}.")
    try:
        home.mkdir(parents=True, exist_ok=True)
        settings = home / "dagster.yaml"
        if not settings.exists():
            shutil.copyfile(instance_settings_path(), settings)
    except OSError as error:
        raise DagsterHomeError(
            f"DAGSTER_HOME {home} cannot be set up ({error.strerror or error}): {FIX}."
        ) from None
    if not os.access(home, os.W_OK):
        raise DagsterHomeError(f"DAGSTER_HOME {home} is not writable: {FIX}.")
    return home
