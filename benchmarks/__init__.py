"""Latency, throughput, cold start and memory of the function against an SDK no-op floor."""
