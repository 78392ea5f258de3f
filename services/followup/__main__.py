"""``python -m services.followup [serve|migrate]``."""

from services.followup.config import FollowupSettings
from services.followup.main import MIGRATIONS, create_app
from shared.runtime import cli

cli(FollowupSettings, MIGRATIONS, create_app)
