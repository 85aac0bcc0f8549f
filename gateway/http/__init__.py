"""HTTP layer: routes, error rendering and request middleware."""
