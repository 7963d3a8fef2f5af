"""The routing policy as a pure function: filters, continuity, skill band, spare capacity in per
cent, longest idle, and the sentence staff read."""

from __future__ import annotations

import datetime as dt

from services.resumes.routing import Candidate, choose

TAGS = {"ml", "python", "sql"}
T0 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def coach(id: int, expertise: tuple[str, ...], capacity: int = 5, open: int = 0, **kw) -> Candidate:
    return Candidate(
        id=id,
        name=f"Coach {id}",
        expertise=frozenset(expertise),
        capacity=capacity,
        open=open,
        last_assigned_at=kw.get("last"),
        excluded=kw.get("excluded"),
    )


def test_the_best_skill_band_wins_over_spare_capacity():
    choice = choose([coach(1, ("frontend",)), coach(2, ("ml", "python"), open=4)], TAGS)
    assert choice.coach_id == 2
    assert choice.reason == "matched ml, python; 4 of 5 open"


def test_bands_cap_at_three_matches_then_spare_capacity_decides():
    strong = coach(1, ("ml", "python", "sql", "mlops"), open=3)
    enough = coach(2, ("ml", "python", "sql"), open=1)
    assert choose([strong, enough], {"ml", "python", "sql", "mlops"}).coach_id == 2


def test_spare_capacity_is_in_per_cent_not_in_slots():
    small = coach(1, ("ml",), capacity=2, open=1)  # 50 % free
    big = coach(2, ("ml",), capacity=10, open=4)  # 60 % free
    assert choose([small, big], TAGS).coach_id == 2


def test_ties_go_to_the_longest_idle_then_the_lowest_id():
    recent = coach(1, ("ml",), last=T0)
    idle = coach(2, ("ml",), last=T0 - dt.timedelta(days=2))
    never = coach(3, ("ml",))
    assert choose([recent, idle], TAGS).coach_id == 2
    assert choose([recent, idle, never], TAGS).coach_id == 3
    assert choose([coach(5, ("ml",)), coach(4, ("ml",))], TAGS).coach_id == 4


def test_continuity_beats_fit_when_the_last_reviewer_is_eligible():
    candidates = [coach(1, ("sql",), open=4), coach(2, ("ml", "python", "sql"))]
    choice = choose(candidates, TAGS, last_reviewer=(1, 1))
    assert choice.coach_id == 1
    assert choice.reason == "matched sql; 4 of 5 open; reviewed v1"
    assert choice.components["continuity"] == {"coach_id": 1, "version": 1, "applied": True}


def test_continuity_yields_when_the_last_reviewer_is_excluded():
    candidates = [coach(1, ("ml",), excluded="full", open=5), coach(2, ("sql",))]
    choice = choose(candidates, TAGS, last_reviewer=(1, 2))
    assert choice.coach_id == 2
    assert choice.components["continuity"]["applied"] is False


def test_the_reason_names_every_exclusion_like_staff_read_it():
    candidates = [
        coach(1, ("ml", "python"), open=2),
        coach(2, ("ml",), excluded="declined"),
        coach(3, ("ml",), excluded="full"),
        coach(4, ("ml",), excluded="full"),
    ]
    choice = choose(candidates, TAGS, last_reviewer=(1, 1))
    assert choice.reason == (
        "matched ml, python; 2 of 5 open; reviewed v1; 3 excluded: 1 declined, 2 full"
    )
    components = choice.components
    assert components["excluded"] == {"declined": 1, "full": 2}
    assert components["eligible"] == 1 and components["considered"] == 4
    assert components["coach"]["spare_pct"] == 60.0


def test_nobody_eligible_is_unassigned_with_the_reasons():
    choice = choose(
        [coach(1, ("ml",), excluded="time off"), coach(2, ("ml",), excluded="conflict")], TAGS
    )
    assert choice.coach_id is None
    assert choice.reason == "no eligible coach; 2 excluded: 1 time off, 1 conflict"
    assert choose([], TAGS).reason == "no active coaches"


def test_filling_equal_coaches_one_by_one_keeps_them_within_one():
    coaches = [coach(i, ("ml",), capacity=7) for i in range(1, 6)]
    for _ in range(30):
        choice = choose(coaches, TAGS)
        coaches = [
            Candidate(**{**c.__dict__, "open": c.open + 1}) if c.id == choice.coach_id else c
            for c in coaches
        ]
        coaches = [
            Candidate(**{**c.__dict__, "excluded": "full" if c.open >= c.capacity else None})
            for c in coaches
        ]
        opens = [c.open for c in coaches]
        assert max(opens) - min(opens) <= 1
    assert [c.open for c in coaches] == [6] * 5


def test_a_jobs_soft_skills_do_not_steer_routing():
    from services.models import ResumeVersion
    from services.resumes.routing import job_tags

    version = ResumeVersion(job_skills=["communication", "kubernetes", "teamwork", "mlflow"])
    tags = job_tags(version)
    assert "behavioral" not in tags
    behind = {name for names in tags.values() for name in names}
    assert tags and behind == {"Kubernetes", "MLflow"}
    assert job_tags(ResumeVersion(job_skills=["communication", "leadership"])) == {}
