"""Per-sample scorers (reward models, log-probabilities) for selection; `@register_scorer`."""
