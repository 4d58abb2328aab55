"""Persistence: SQLAlchemy Core tables, engines, migrations, repositories and writers."""
