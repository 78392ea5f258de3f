"""``python -m services.followup [serve|migrate]``."""

from services.followup.config import FollowupSettings
from services.followup.main import MIGRATIONS, create_app
from shared.http.server import cli

cli(FollowupSettings, MIGRATIONS, create_app)
