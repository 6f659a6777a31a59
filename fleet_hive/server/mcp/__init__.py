"""``fleet-hive mcp``: an MCP server on stdio over the same library calls the CLI makes.

:mod:`.tools` is the tool table (plain functions over a :class:`~fleet_hive.app.hive.Hive`,
no MCP import); :mod:`.stdio` serves it with the official MCP SDK.
"""
