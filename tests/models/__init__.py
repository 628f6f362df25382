"""Tests of zoo.models."""
