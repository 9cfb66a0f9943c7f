"""Plots, terminal tables and HTML reports rendered from the store alone."""
