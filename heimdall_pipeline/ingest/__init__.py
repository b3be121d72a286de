"""From MinIO metadata objects to `measurements` rows: parsing, loading, the ledger, discovery."""
