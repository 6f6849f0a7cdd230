"""Everything that talks to PostgreSQL: the pool, migrations, queries, DataLoaders, demo data."""
