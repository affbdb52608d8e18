"""SQLModel tables and the database connection. No Dagster imports here."""
