"""``python -m services.intake [serve|migrate]``."""

from services.intake.config import IntakeSettings
from services.intake.main import MIGRATIONS, create_app
from shared.http.server import cli

cli(IntakeSettings, MIGRATIONS, create_app)
