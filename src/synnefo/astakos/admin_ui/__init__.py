"""The admin web pages at ``/admin/`` (``ASTAKOS_ADMIN_PREFIX``): users, their state,
providers and quotas, the actions administrators take on them, and the audit trail.

Only logged-in users of type ADMIN get in (see ``access``); everything they change goes
through ``synnefo.astakos.logic.admin``, which records it in the audit trail.
"""
