"""The bottom layer: infrastructure every app may use. It imports nothing else of the project
(stdlib, Django, DRF and third-party libraries only) and has no concrete models: core/models.py
holds abstract bases only. See DESIGN.md §2."""
