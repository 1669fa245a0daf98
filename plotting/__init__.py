"""Reports from stored pytest-benchmark runs (SPEC §6): the seed's tables, its 4-panel figure, comparisons."""
