"""The bottom layer: infrastructure every app may use. It imports nothing else of the project
(stdlib, Django, DRF and third-party libraries only) and has no models. See DESIGN.md §2."""
