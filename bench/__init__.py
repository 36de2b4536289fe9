"""The benchmarks (not tests): bench/run runs suite.py; the modules here are its parts."""
