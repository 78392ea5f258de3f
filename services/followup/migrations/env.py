"""Alembic environment of the followup service (its own database, its own history)."""

from alembic import context

from services.followup.models import Base
from shared.migrate import run_env

run_env(context, Base.metadata)
