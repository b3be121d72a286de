"""The database schema: migrations, adoption of an existing table, grants, the receiver list."""
