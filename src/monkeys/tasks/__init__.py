"""Dataset adapters, one module per dataset; each registers itself with `@register_task`."""
