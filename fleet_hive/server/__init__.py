"""Services over protocols: the HTTP API (``/api/v1/``), the dashboard page and
``fleet-hive serve``, and the MCP server (``fleet-hive mcp``, :mod:`.mcp`): the only importer
of fastapi, uvicorn and mcp (the optional extra ``fleet-hive[server]``).

Thin over the library, like the CLI: every route and tool calls the same ``Hive`` methods
the CLI's commands call and answers with the same ``to_json`` shapes; errors are the CLI's
error object. Nothing below ``server/`` imports it, and no read command loads it.
"""
