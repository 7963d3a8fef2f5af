from web.coach import bp  # noqa: F401
