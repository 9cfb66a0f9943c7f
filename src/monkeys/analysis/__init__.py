"""Analysis over the store: pass@k, coverage, selection, fits, cost. Never calls a sampler."""
