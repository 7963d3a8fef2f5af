"""Extension instances, unbound; create_app() binds them to the app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()
limiter = Limiter(
    key_func=get_remote_address,
    # Sign-in keeps working if Redis is down: limits then count in this process only.
    in_memory_fallback_enabled=True,
    swallow_errors=True,
)
