"""Tests of zoo.models.forecaster."""
