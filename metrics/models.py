"""Models for metrics arrive with their issue."""
