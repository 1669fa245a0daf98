"""Root conftest: the suite's plugin (bench/plugin.py) and its report at the end of a benchmark run."""
pytest_plugins = ("bench.plugin", "plotting.pytest_plugin")
