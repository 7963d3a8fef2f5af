"""Résumés: upload and versions, who may see what, the automated checks, and the coach's side
(accept, decline, review)."""

from services.resumes.operations import *  # noqa: F403
