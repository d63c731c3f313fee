"""The BentoML service and what it needs to load models from the store."""
