"""The database backend: django-tenants' PostgreSQL backend that can keep one search_path set (base.py)."""
