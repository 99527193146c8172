"""Locust users for the throughput part: together they ask each MultiHop-RAG question at most once,
back to back, and the level ends early when none is left, so no answer comes from a cache."""

from __future__ import annotations

from locust import HttpUser, task

from bench.common import questions

_QUESTIONS = iter(questions())


class Asker(HttpUser):
    @task
    def ask(self) -> None:
        question = next(_QUESTIONS, None)
        if question is None:
            self.environment.runner.quit()
            return
        self.client.post("/api/ask", json={"question": question}, name="/api/ask")
