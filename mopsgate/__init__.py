"""mopsgate: a governed MCP server for Marketing Operations.

The code lives in the top-level folders the layout shows (``server/``, ``tools/``,
``governance/``, ``connectors/``, ``sandbox/``, ``storage/``, ``crm/``); this package only
gathers them under one name, through the links beside this file, so an installed mopsgate puts
nothing generic into site-packages.
"""

__version__ = "0.1.0"
