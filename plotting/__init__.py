"""Reports from stored pytest-benchmark runs: the seed's tables, its 4-panel figure, comparisons."""
