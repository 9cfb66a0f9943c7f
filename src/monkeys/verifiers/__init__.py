"""Verifiers, one module per kind of check; each registers itself with `@register_verifier`."""
