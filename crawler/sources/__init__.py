"""Parsing what sources publish (feeds, sitemaps, list pages): plain functions."""
