"""Dwell-time analytics over the event log: steps, percentiles by node x stage, exports and the status lens.

Import from the modules (`duck.DuckDBDwellAnalytics`, `query.parse_dwell_query`, `lens.order_lens`, ...):
this file stays empty so that the CLI can register its commands without loading DuckDB or the dictionary.
"""
