"""One router module per capability, each exporting ``router`` (mounted under ``/api/v1``).

Adding a capability to the API = one module here and one entry in :data:`ROUTERS`.
"""

#: Module names under this package, in the order their routes are matched: a fixed path
#: (``POST /missions/{id}/checkpoints``) before a pattern that would take it
#: (``POST /missions/{id}/{action}``).
ROUTERS = ("health", "status", "checkpoints", "recovery", "planning", "missions", "sorties",
           "events", "reservations", "mail", "specialists", "learning")
