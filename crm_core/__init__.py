"""The CRM core: leads, contacts, companies, the call log, and the rules that turn calls into CRM facts.

Nothing here knows a PBX or HTTP. Services take an ``AsyncSession`` argument and never open one
(except :class:`~crm_core.writer.CallLogWriter`, which owns one session per call it records); the
schema lives in Alembic migrations run by :func:`crm_core.migrate.upgrade`.
"""
