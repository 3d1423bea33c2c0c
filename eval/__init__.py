"""Retrieval and translation evaluation: datasets, metrics, runs, reports."""
