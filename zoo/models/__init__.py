"""Backbones, task models and their presets, one family per sub-package.

Nothing is imported here so that ``import zoo.models`` stays cheap; import a
family's package (e.g. ``zoo.models.vit``) to use it.
"""
