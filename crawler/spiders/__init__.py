"""The spider that walks every configured source."""
