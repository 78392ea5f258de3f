"""``python -m services.dispatch [serve|migrate]``."""

from services.dispatch.config import DispatchSettings
from services.dispatch.main import MIGRATIONS, create_app
from shared.http.server import cli

cli(DispatchSettings, MIGRATIONS, create_app)
