"""Citation-first question answering over news articles.

Answers are passages quoted verbatim from the indexed articles, each with a citation;
the service never writes text of its own.
"""

__version__ = "0.1.0"
