"""``python -m services.intake [serve|migrate]``."""

from services.intake.config import IntakeSettings
from services.intake.main import MIGRATIONS, create_app
from shared.runtime import cli

cli(IntakeSettings, MIGRATIONS, create_app)
