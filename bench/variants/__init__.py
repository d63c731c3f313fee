"""Alternative services that the benchmarks measure ours against; never served to users."""
