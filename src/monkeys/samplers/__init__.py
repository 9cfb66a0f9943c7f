"""Model backends, one module per backend; each registers itself with `@register_sampler`."""
