from web.learner import bp  # noqa: F401
