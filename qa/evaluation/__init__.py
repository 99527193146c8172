"""Measure answer quality: ranking, answers and abstention over a question set, and the
public MultiHop-RAG benchmark scored exactly as its own code scores it.

Every question goes through `Answerer.ask`, the call behind `/api/ask`, so the figures are
the service's own. Metric functions are pure (`metrics`), so their numbers can be checked by hand.
"""
