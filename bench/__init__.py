"""Benchmarks of the service against its raw limits (run by hand: `python -m bench`; tests run a part
only on a tiny fixture, as tests/test_peers.py does).

Each part measures on this machine and stores its figures in docs/performance.json; the report
docs/performance.md is rewritten from all stored parts, so one part can be rerun alone.
"""
