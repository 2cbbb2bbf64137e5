"""Small programs tests run in a process of their own (a reactor each)."""
