"""Alembic environment of the intake service (its own database, its own history)."""

from alembic import context

from services.intake.models import Base
from shared.migrate import run_env

run_env(context, Base.metadata)
