"""Scrapy extensions: the run record and the progress display."""
