"""Celery task modules, one per family; each family is routed to its queue by its module name."""
