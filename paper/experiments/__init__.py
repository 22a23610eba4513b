"""Experiments of the paper, written as scripts of the public API."""
