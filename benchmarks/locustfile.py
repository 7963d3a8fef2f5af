"""The load scenario: learners read the FAQ, search slots, book and upload; staff watch the queue.

Run by benchmarks/load.py (which starts the servers); every request is named by its route.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random

from locust import HttpUser, between, task

LEARNERS = itertools.count()
# benchmarks/load.py runs this file twice: LOAD_MODE=bare (the baseline) and LOAD_MODE=mix.
BARE = os.environ.get("LOAD_MODE", "mix") == "bare"
PASSWORD = "load test passphrase"
TYPES = ["behavioral", "technical-ml", "ml-system-design", "coding"]


def sample_pdf(text: str = "Ada Learner ada@example.com Python SQL PyTorch Docker Git") -> bytes:
    """A small, valid one-page PDF with a line of text (built by hand: no extra dependency)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


PDF = sample_pdf()


def _expected(response, *statuses):
    if response.status_code in statuses:
        response.success()
    else:
        response.failure(f"unexpected {response.status_code}: {response.text[:200]}")


class Learner(HttpUser):
    weight = 0 if BARE else 9
    wait_time = between(0.05, 0.2)

    def on_start(self):
        number = next(LEARNERS) % int(os.environ.get("LOAD_LEARNERS", "40"))
        response = self.client.post(
            "/api/v1/auth/token",
            json={"email": f"load-learner-{number}@example.com", "password": PASSWORD},
            name="POST /api/v1/auth/token",
        )
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    @task(6)
    def faq(self):
        self.client.get("/faq", name="GET /faq")

    def _slots(self, kind):
        start = dt.date.today() + dt.timedelta(days=2)
        with self.client.get(
            "/api/v1/slots",
            params={
                "type": kind,
                "start": start.isoformat(),
                "end": (start + dt.timedelta(days=6)).isoformat(),
                "tz": "UTC",
            },
            headers=self.headers,
            name="GET /api/v1/slots",
            catch_response=True,
        ) as response:
            _expected(response, 200)
            return response.json().get("slots", []) if response.status_code == 200 else []

    @task(3)
    def search_slots(self):
        self._slots(random.choice(TYPES))

    @task(1)
    def book(self):
        kind = random.choice(TYPES)
        slots = self._slots(kind)
        if not slots:
            return
        slot = random.choice(slots)
        with self.client.post(
            "/api/v1/bookings",
            json={"type": kind, "start": slot["start"]},
            headers=self.headers,
            name="POST /api/v1/bookings",
            catch_response=True,
        ) as response:
            # 409: another user took the slot first; 422: this learner's fair-use limit.
            _expected(response, 201, 409, 422)

    @task(1)
    def upload(self):
        with self.client.post(
            "/api/v1/resumes",
            files={"file": ("resume.pdf", PDF, "application/pdf")},
            data={"target_role": "ml engineer"},
            headers=self.headers,
            name="POST /api/v1/resumes",
            catch_response=True,
        ) as response:
            _expected(response, 201)


class Staff(HttpUser):
    weight = 0 if BARE else 1
    wait_time = between(0.1, 0.3)

    def on_start(self):
        response = self.client.post(
            "/api/v1/auth/token",
            json={"email": "load-staff@example.com", "password": PASSWORD},
            name="POST /api/v1/auth/token",
        )
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    @task
    def queue(self):
        with self.client.get(
            "/api/v1/queue", headers=self.headers, name="GET /api/v1/queue", catch_response=True
        ) as response:
            _expected(response, 200)


class Bare(HttpUser):
    """Only in the baseline run, against benchmarks/bare_app.py."""

    wait_time = between(0.05, 0.2)
    weight = 1 if BARE else 0

    @task
    def read(self):
        self.client.get(f"/pk/{random.randint(1, 10)}", name="GET /pk/<id> (bare Flask)")
