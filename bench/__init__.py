"""Benchmarks of the service against its raw limits (run by hand: `python -m bench`, never in tests).

Each part measures on this machine and stores its figures in docs/performance.json; the report
docs/performance.md is rewritten from all stored parts, so one part can be rerun alone.
"""
