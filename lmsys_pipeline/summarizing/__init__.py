"""Summary runs: titles and descriptions of every cluster of a clustering run, per alias."""
