"""The privacy gate: personal data found in what would be shown, small clusters folded, and
only aggregates published (issue 26)."""
