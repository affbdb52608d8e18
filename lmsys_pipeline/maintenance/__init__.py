"""Maintenance of stored data: deleting conversations on request."""
