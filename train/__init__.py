"""Workstation training: dataset ingestion, scene splits, the Keras classifier, reports."""
