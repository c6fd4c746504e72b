"""Models for loyalty arrive with their issue."""
