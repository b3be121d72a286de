"""Plain building blocks every stage uses: settings, database connections, the object store."""
