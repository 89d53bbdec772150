"""NLU pipeline components (config.yml): language, e5 features, record facts,
the intent classifier."""
