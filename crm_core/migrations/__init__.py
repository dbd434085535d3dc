"""Alembic environment and revisions of the CRM schema (run them with :mod:`crm_core.migrate`)."""
