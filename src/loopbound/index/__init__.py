"""The project index: per-module summaries (cached by content) resolved across the whole project."""
