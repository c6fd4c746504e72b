"""Models for surveys arrive with their issue."""
