"""The privacy gate: ``privacy_report`` and its blocking checks."""
