"""Interagency: the curated feeds of dossier progress for ministry systems."""
