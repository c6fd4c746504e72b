"""Customer pages, one module per page family so each stays thin."""
