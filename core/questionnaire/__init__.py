"""Questionnaires: the definition (from a source plugin), answers, visibility, consent and profiles."""
