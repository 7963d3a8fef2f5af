"""The queue page and GET /api/v1/queue send the same number of SQL statements per page at 100
and at 10,000 résumés (keyset pagination, batched loading)."""

from __future__ import annotations

import datetime as dt
import html
import re

from services.db import utcnow
from tests.support_auth import sign_in
from tests.support_staff import QueryCounter, bulk_resumes


def count(client, path: str, **kwargs) -> int:
    return fetch(client, path, **kwargs)[0]


def fetch(client, path: str, **kwargs):
    with QueryCounter() as counter:
        response = client.get(path, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return counter.count, response


def shown(response) -> list[str]:
    """The résumés a page lists, by id: the API's items, or the HTML table's "#id" links (target
    roles repeat between the two batches, so they cannot tell pages apart)."""
    if response.is_json:
        return [str(item["id"]) for item in response.json["items"]]
    return re.findall(r'href="/staff/resumes/(\d+)"><strong>#', response.get_data(as_text=True))


def next_page(path: str, response) -> str | None:
    if response.is_json:
        cursor = response.json["next_cursor"]
        return cursor and f"{path}{'&' if '?' in path else '?'}cursor={cursor}"
    link = re.search(r'href="([^"]+)">Next page<', response.get_data(as_text=True))
    return link and html.unescape(link.group(1))


def test_queries_per_page_do_not_grow_with_the_queue(client, make_user, token_for):
    learner = make_user("learner")
    coach = make_user("coach", name="Cora")
    api_staff = make_user("staff")
    token = token_for(api_staff)
    page_staff = make_user("staff")
    sign_in(client, page_staff.email)
    headers = {"Authorization": f"Bearer {token}"}
    due = utcnow() + dt.timedelta(days=1)
    paths = [
        ("/staff/queue", {}),
        ("/staff/queue?sort=oldest&q=engineer", {}),
        ("/api/v1/queue", {"headers": headers}),
        ("/api/v1/queue?limit=200", {"headers": headers}),
    ]
    bulk_resumes(learner.id, 100, status="assigned", reviewer_id=coach.id, due_at=due)
    small = {path: count(client, path, **kw) for path, kw in paths}
    # the second page too: the cursor costs nothing extra
    bulk_resumes(learner.id, 9_900, status="assigned", reviewer_id=coach.id, due_at=due)
    large = {path: count(client, path, **kw) for path, kw in paths}
    assert large == small
    assert max(small.values()) <= 12, small

    # The pages really list résumés, and the keyset cursor's next page costs the same and moves on.
    for path, kw in paths:
        cost, first = fetch(client, path, **kw)
        rows = shown(first)
        assert rows, path
        following = next_page(path, first)
        assert following, f"{path} offers no next page at 10,000 résumés"
        second_cost, second = fetch(client, following, **kw)
        assert second_cost <= cost, (path, cost, second_cost)
        later = shown(second)
        assert later and not set(later) & set(rows), path
