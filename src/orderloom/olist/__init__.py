"""Replay of the public Olist Brazilian e-commerce sample through the API, and the report read back from the log.

Import from the modules (`replay`, `report`, ...): this file stays empty so the CLI can register its
commands without loading scikit-learn or DuckDB.
"""
