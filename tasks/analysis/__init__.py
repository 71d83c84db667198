"""Analysis: technical indicators, sentiment and multi-model consensus, with their stored results."""
