"""Alembic environment: migrations run on the connection the application hands over (engine.py),
in batch mode so SQLite can alter tables."""

from alembic import context

from clinic.db.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                  include_object=config.attributes.get("include_object"))
with context.begin_transaction():
    context.run_migrations()
