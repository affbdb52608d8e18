"""Clustering runs: parameters, KMeans and HDBSCAN fits, and storing assignments."""
