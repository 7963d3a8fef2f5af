"""The gap analysis on text (services/resumes/jobmatch.py): where a skill shows, hard skills
first, the title's alignment, the advice."""

from __future__ import annotations

import pytest

from services.errors import ValidationFailed
from services.resumes import jobmatch

RESUME = """Jane Doe
MLOps Platform Engineer
Experience
Ran model serving on k8s for 40 services.
Projects
A torch model zoo.
Skills
Python, Terraform
"""
JOB = """Title: Senior MLOps Engineer
Kubernetes, PyTorch, Terraform, Spark and clear communication."""


def test_each_skill_says_where_it_shows_and_missing_hard_skills_come_first():
    match = jobmatch.analyse(RESUME, JOB)
    where = {m["name"]: m["where"] for m in match["matched"]}
    assert where["Kubernetes"] == ["an experience bullet"]  # k8s is Kubernetes
    assert where["PyTorch"] == ["a project"]  # torch is PyTorch
    assert where["Terraform"] == ["the skills section"]
    assert [m["name"] for m in match["missing"]] == ["Spark", "Communication"]
    assert match["counts"]["hard_total"] == 5  # MLOps too, named by the title


def test_the_title_named_close_or_not():
    assert jobmatch.analyse(RESUME, JOB)["title"]["close"] == "MLOps Platform Engineer"
    named = jobmatch.analyse("Jane\nMLOps Engineer\n", JOB)["title"]
    assert named["named"] is True and named["advice"] is None
    other = jobmatch.analyse("Jane\nData Analyst\n", JOB)["title"]
    assert other["named"] is False and other["close"] is None
    assert "Senior MLOps Engineer" in other["advice"]
    assert jobmatch.job_title("Data Engineer\nWe build pipelines.") == "Data Engineer"


def test_a_pasted_job_description_is_bounded():
    assert jobmatch.clean_text("   ") is None
    with pytest.raises(ValidationFailed):
        jobmatch.clean_text("x" * (jobmatch.MAX_JOB_CHARS + 1))
    with pytest.raises(ValidationFailed):
        jobmatch.clean_text("a\x00b")
