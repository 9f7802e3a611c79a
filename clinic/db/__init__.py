"""Storage: SQLAlchemy models (models/), opening and migrating a database (engine.py), audit (audit.py)."""
