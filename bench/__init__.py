"""Benchmarks for the bank voice desk: handoff overhead, tool latency, concurrent sessions,
data scale and session start, each against a baseline measured in the same run.

Run them all with `./dev bench` (`python -m bench`); `--smoke` runs each once at a tiny size
(CI), `--only NAME` runs one. Full runs regenerate `bench/RESULTS.md`."""
