"""The résumé notifications: their kinds, and for each event who is told what."""

from __future__ import annotations

from typing import Any

from services.db import db
from services.models import (
    Annotation,
    AnnotationReply,
    Assignment,
    Resume,
    ResumeVersion,
    Review,
    Role,
)
from services.models.resumes import LIVE_ASSIGNMENT_STATES
from services.notifications import Message, base_url, handles, register_kind, staff_recipients
from services.resumes.views import local_time
from services.rubric import OUTCOMES, in_a_sentence

register_kind(
    "resume_assigned",
    "Résumé assigned to you",
    email_template="resume_assigned",
    roles=(Role.COACH,),
    description="A résumé was routed to you for review.",
)
register_kind(
    "resume_moved",
    "Résumé moved by staff",
    email_template="resume_moved",
    roles=(Role.COACH,),
    description="Staff moved a résumé offered to you, or in your review, to another coach, "
    "or gave you back one you held before.",
)
register_kind(
    "resume_reviewed",
    "Résumé reviewed",
    email_template="resume_reviewed",
    roles=(Role.LEARNER,),
    description="A coach finished reviewing your résumé.",
)
register_kind(
    "review_overdue",
    "Review overdue",
    email_template="resume_overdue",
    roles=(Role.STAFF, Role.COACH),
    description="A résumé review passed its due time.",
)
register_kind(
    "resume_unassigned",
    "Résumé without a reviewer",
    email_template="resume_unassigned",
    roles=(Role.STAFF,),
    description="No coach could take a résumé: someone must assign it.",
)
register_kind(
    "resume_checked",
    "Automated checks ready",
    email_template="resume_checked",
    roles=(Role.LEARNER,),
    description="The automated checks of an uploaded résumé are ready.",
)
register_kind(
    "resume_unreadable",
    "Résumé could not be read",
    email_template="resume_unreadable",
    roles=(Role.LEARNER,),
    description="An uploaded file could not be read and needs a new version.",
)
register_kind(
    "review_due_soon",
    "Review due soon",
    email_template="resume_due_soon",
    roles=(Role.COACH,),
    description="A résumé you are reviewing is close to its due time.",
)
register_kind(
    "resume_withdrawn",
    "Résumé withdrawn",
    email_template="resume_withdrawn",
    roles=(Role.COACH,),
    description="A résumé offered to you or in your review was withdrawn before the review.",
)
register_kind(
    "resume_review_corrected",
    "Review corrected",
    email_template="resume_review_corrected",
    roles=(Role.LEARNER,),
    description="A coach corrected a review they had sent you.",
)
register_kind(
    "resume_offer_expired",
    "Review offer expired",
    email_template="resume_offer_expired",
    roles=(Role.COACH,),
    description="A résumé offered to you was not accepted in time and went to someone else.",
)

register_kind(
    "resume_annotation_reply",
    "Reply to a résumé comment",
    email_template="resume_annotation_reply",
    roles=(Role.COACH, Role.LEARNER),
    description="Someone replied to a comment on a résumé: the learner to their coach's "
    "comment, or the coach to the learner's reply.",
)


# --- notifications --------------------------------------------------------------------------------


def _link(path: str) -> str:
    return f"{base_url()}{path}"


@handles("resume.checked")
def _checked(payload: dict[str, Any]) -> list[Message]:
    resume = db.session.get(Resume, payload["resume_id"])
    version = db.session.get(ResumeVersion, payload["version_id"])
    if resume is None or version is None or not version.checks:
        return []
    passed = sum(1 for c in version.checks if c["passed"])
    return [
        Message(
            user=resume.learner,
            kind="resume_checked",
            title="Automated checks are ready",
            body=f"{passed} of {len(version.checks)} checks passed for “{version.filename}”.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={"resume": resume, "version": version, "passed": passed},
        )
    ]


@handles("resume.unreadable")
def _unreadable(payload: dict[str, Any]) -> list[Message]:
    resume = db.session.get(Resume, payload["resume_id"])
    version = db.session.get(ResumeVersion, payload["version_id"])
    if resume is None or version is None:
        return []
    return [
        Message(
            user=resume.learner,
            kind="resume_unreadable",
            title="We could not read your résumé",
            body=version.analysis_error or "Upload it again as a new version.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={"resume": resume, "version": version},
        )
    ]


@handles("resume.assigned")
def _assigned(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    resume = assignment.resume
    return [
        Message(
            user=assignment.coach,
            kind="resume_assigned",
            title=f"Résumé to review: {resume.target_role}",
            body=f"{resume.learner.name}'s résumé (version {assignment.version.number}) is offered "
            f"to you. Accept it by {local_time(assignment.expires_at, assignment.coach)}, or "
            "decline with a reason.",
            link=_link(f"/coach/reviews/{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "expires_local": local_time(assignment.expires_at, assignment.coach),
                "due_local": local_time(assignment.due_at, assignment.coach),
            },
        )
    ]


@handles("resume.reviewed")
def _reviewed(payload: dict[str, Any]) -> list[Message]:
    review = db.session.get(Review, payload["review_id"])
    resume = db.session.get(Resume, payload["resume_id"])
    if review is None or resume is None:
        return []
    return [
        Message(
            user=resume.learner,
            kind="resume_reviewed",
            title="Your résumé was reviewed",
            body=f"{review.coach.name if review.coach else 'Your coach'} reviewed your résumé: "
            f"{review.outcome.replace('_', ' ')}.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={
                "resume": resume,
                "review": review,
                "coach_name": review.coach.name if review.coach else "Your coach",
            },
        )
    ]


@handles("resume.review_corrected")
def _review_corrected(payload: dict[str, Any]) -> list[Message]:
    review = db.session.get(Review, payload["review_id"])
    resume = db.session.get(Resume, payload["resume_id"])
    if review is None or resume is None:
        return []
    coach_name = review.coach.name if review.coach else "Your coach"
    changed = [str(n) for n in payload.get("changed") or []]
    return [
        Message(
            user=resume.learner,
            kind="resume_review_corrected",
            title="Your review was corrected",
            body=f"{coach_name} corrected the review of your résumé "
            f"(changed {in_a_sentence(changed) or 'details'}). "
            f"Outcome: {OUTCOMES.get(review.outcome, review.outcome).lower()}.",
            link=_link(f"/learn/resumes/{resume.id}"),
            context={"resume": resume, "review": review, "coach_name": coach_name},
        )
    ]


@handles("resume.unassigned")
def _unassigned(payload: dict[str, Any]) -> list[Message]:
    resume = db.session.get(Resume, payload["resume_id"])
    if resume is None:
        return []
    reason = str(payload.get("reason") or "")
    return [
        Message(
            user=staff,
            kind="resume_unassigned",
            title=f"No reviewer for résumé #{resume.id}",
            body=f"{resume.learner.name}'s résumé ({resume.target_role}) could not be routed: "
            f"{reason}. It is routed automatically when capacity frees, or assign it now.",
            link=_link(f"/staff/queue?status=unassigned#resume-{resume.id}"),
            context={"resume": resume, "reason": reason},
        )
        for staff in staff_recipients()
    ]


@handles("resume.due_soon")
def _due_soon(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None or assignment.status not in LIVE_ASSIGNMENT_STATES:
        return []
    resume = assignment.resume
    return [
        Message(
            user=assignment.coach,
            kind="review_due_soon",
            title=f"Review due soon: {resume.target_role}",
            body=f"The review of {resume.learner.name}'s résumé is due soon.",
            link=_link(f"/coach/reviews/{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "due_local": local_time(assignment.due_at, assignment.coach),
            },
        )
    ]


@handles("resume.overdue")
def _overdue(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    resume = assignment.resume
    return [
        Message(
            user=staff,
            kind="review_overdue",
            title=f"Review overdue: résumé #{resume.id}",
            body=f"{assignment.coach.name} has not finished the review of "
            f"{resume.learner.name}'s résumé, due {local_time(assignment.due_at, staff)}.",
            link=_link(f"/staff/queue?overdue=true#resume-{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "due_local": local_time(assignment.due_at, staff),
                "to_coach": False,
            },
        )
        for staff in staff_recipients()
    ] + [
        Message(
            user=assignment.coach,
            kind="review_overdue",
            title=f"Your review is overdue: {resume.target_role}",
            body=f"The review of {resume.learner.name}'s résumé was due "
            f"{local_time(assignment.due_at, assignment.coach)}; staff were told.",
            link=_link(f"/coach/reviews/{resume.id}"),
            context={
                "resume": resume,
                "assignment": assignment,
                "due_local": local_time(assignment.due_at, assignment.coach),
                "to_coach": True,
            },
        )
    ]


@handles("resume.withdrawn")
def _withdrawn(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    return [
        Message(
            user=assignment.coach,
            kind="resume_withdrawn",
            title=f"Résumé withdrawn: {assignment.resume.target_role}",
            body=f"{assignment.resume.learner.name}'s résumé was withdrawn before the review; "
            "you need do nothing more with it.",
            link=_link("/coach/reviews"),
            context={"resume": assignment.resume},
        )
    ]


@handles("resume.moved")
def _moved(payload: dict[str, Any]) -> list[Message]:
    """Staff (or a rebalance) moved a résumé: the coach who lost it is told it moved; a coach who
    got back a version they held before is told it is back (their first "Résumé to review"
    still leads to it), never offered it a second time."""
    resume = db.session.get(Resume, payload["resume_id"])
    if resume is None:
        return []
    before = _assignment(payload.get("from_assignment_id"))
    after = _assignment(payload.get("to_assignment_id"))
    link = _link(f"/coach/reviews/{resume.id}")
    messages = []
    if before is not None and (after is None or after.coach_id != before.coach_id):
        messages.append(
            Message(
                user=before.coach,
                kind="resume_moved",
                title=f"Résumé moved to another coach: {resume.target_role}",
                body=f"Staff moved {resume.learner.name}'s résumé to another coach; you need do "
                "nothing more with it.",
                link=link,
                context={"resume": resume, "back": False},
            )
        )
    if after is not None and payload.get("back") and after.status in LIVE_ASSIGNMENT_STATES:
        messages.append(
            Message(
                user=after.coach,
                kind="resume_moved",
                title=f"Résumé back with you: {resume.target_role}",
                body=f"Staff gave you back {resume.learner.name}'s résumé (version "
                f"{after.version.number}), which you were offered before.",
                link=link,
                context={
                    "resume": resume,
                    "back": True,
                    "expires_local": local_time(after.expires_at, after.coach),
                    "due_local": local_time(after.due_at, after.coach),
                },
            )
        )
    return messages


def _assignment(assignment_id: Any) -> Assignment | None:
    return db.session.get(Assignment, assignment_id) if isinstance(assignment_id, int) else None


@handles("resume.offer_expired")
def _offer_expired(payload: dict[str, Any]) -> list[Message]:
    assignment = db.session.get(Assignment, payload["assignment_id"])
    if assignment is None:
        return []
    return [
        Message(
            user=assignment.coach,
            kind="resume_offer_expired",
            title="A review offer expired",
            body=f"The offer of {assignment.resume.learner.name}'s résumé was not accepted in "
            "time and went to someone else.",
            link=_link("/coach/reviews"),
            context={"resume": assignment.resume},
        )
    ]


@handles("resume.annotation_replied")
def _annotation_replied(payload: dict[str, Any]) -> list[Message]:
    """A reply in a comment's thread: the learner's tells the comment's coach, the coach's tells
    the learner."""
    resume = db.session.get(Resume, payload["resume_id"])
    annotation = db.session.get(Annotation, payload["annotation_id"])
    message = db.session.get(AnnotationReply, payload["reply_id"])
    if resume is None or annotation is None or message is None:
        return []
    version = annotation.version
    if payload.get("to") == "coach":
        if annotation.coach is None:
            return []
        user, other_name = annotation.coach, resume.learner.name
        link = _link(f"/coach/reviews/{resume.id}#annotation-{annotation.id}")
    else:
        user = resume.learner
        other_name = annotation.coach.name if annotation.coach else "Your coach"
        link = _link(
            f"/learn/resumes/{resume.id}?version={version.number}#annotation-{annotation.id}"
        )
    quote = annotation.exact or f"your page {annotation.page}"
    return [
        Message(
            user=user,
            kind="resume_annotation_reply",
            title=f"{other_name} replied to a comment",
            body=f"On “{quote[:80]}” (version {version.number}): {message.body[:300]}",
            link=link,
            context={"resume": resume, "reply": message.body, "other_name": other_name},
        )
    ]
