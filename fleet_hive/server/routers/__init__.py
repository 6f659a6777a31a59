"""One router module per capability, each exporting ``router`` (mounted under ``/api/v1``).

Adding a capability to the API = one module here and one entry in :data:`ROUTERS`.
"""

#: module names under this package, in the order their routes appear in the OpenAPI document
ROUTERS = ("health", "status", "missions", "sorties", "events", "reservations", "checkpoints",
           "recovery")
