"""The archive: where records, images and run records are kept.

Nothing here imports Scrapy or ``crawler``: archivists' tools (ls, show,
search, export, verify, serve) work on a bucket or a directory alone.
"""
