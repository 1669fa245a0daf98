"""Reports from stored pytest-benchmark runs: the original guide's tables, its 4-panel figure, comparisons."""
