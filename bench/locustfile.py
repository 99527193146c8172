"""Locust users for the throughput part: each asks distinct MultiHop-RAG questions, back to back."""

from __future__ import annotations

import itertools

from locust import HttpUser, task

from bench.common import questions

_QUESTIONS = itertools.cycle(questions(1000))


class Asker(HttpUser):
    @task
    def ask(self) -> None:
        self.client.post("/api/ask", json={"question": next(_QUESTIONS)}, name="/api/ask")
