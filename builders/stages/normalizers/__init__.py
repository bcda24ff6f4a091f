"""Normalize stage: canonical text and canonical, hierarchy-closed value labels."""
