"""Translator integration fixtures."""
