from web.staff import bp  # noqa: F401
