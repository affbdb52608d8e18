"""How one explorer server runs: where the data is, who may read it, whether it edits.

One object handed to ``create_app``, so that later settings (the privacy gate of issue 26,
``--public``) have a place to go without changing every route.
"""

import ipaddress
import os
from dataclasses import dataclass

TOKEN_ENV = "LMSYS_SERVE_TOKEN"
DAGSTER_URL_ENV = "LMSYS_DAGSTER_URL"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
LOOPBACK_NAMES = ("localhost",)


class SettingsError(ValueError):
    """Settings the server refuses to start with, in one sentence."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.x, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ExplorerSettings:
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    read_only: bool = False
    # Required on every request when set; required to start on a non-loopback address.
    token: str | None = None
    # The name edit forms propose for the audit row (default: the OS user).
    editor: str | None = None
    # Where links to the Dagster UI point (default $LMSYS_DAGSTER_URL, else 127.0.0.1:3000).
    dagster_url: str | None = None
    # Load the search model at start instead of on the first search.
    preload_model: bool = False
    # Serve only what ``lmsys publish`` would write (explorer/public.py), with this threshold.
    public: bool = False
    min_conversations: int = 10

    def checked(self) -> "ExplorerSettings":
        """These settings, or one sentence saying why the server must not start with them."""
        if not is_loopback(self.host) and not self.token:
            raise SettingsError(
                f"--host {self.host} lets other machines reach the data: give --token T (or "
                f"set {TOKEN_ENV}) so that only people who have it can, or keep --host "
                "127.0.0.1."
            )
        return self

    @property
    def dagster_base(self) -> str:
        return (self.dagster_url or os.environ.get(DAGSTER_URL_ENV) or DEFAULT_DAGSTER_URL).rstrip(
            "/"
        )
