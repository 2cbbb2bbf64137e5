"""Item pipelines, in order: extract (100), images (200), record (300)."""
