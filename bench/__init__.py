"""wirestream's benchmarks; results are committed under bench/results/."""
