"""Test support code: doubles, helpers and fixtures shared by the test layers and the benchmarks (never shipped)."""
