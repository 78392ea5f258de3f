"""Alembic environment of the dispatch service (its own database, its own history)."""

from alembic import context

from services.dispatch.models import Base
from shared.migrate import run_env

run_env(context, Base.metadata)
