"""Order value-stream weaving: data contracts, domain facts, contract health, federated query, department views.

Import from the modules (`catalog.load_contracts`, `facts.FactDesk`, `query.QueryEngine`, ...): this file
stays empty so that the CLI can register its commands without loading DuckDB or the contracts.
"""
