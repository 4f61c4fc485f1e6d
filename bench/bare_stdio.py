"""The start-up baseline: a bare ``MCPServer`` with one no-op tool over stdio, and nothing else
imported, started the same way as ``mopsgate serve`` (a fresh interpreter)."""

from mcp.server import MCPServer

server = MCPServer("bare", log_level="WARNING")


@server.tool()
async def noop() -> str:
    return "ok"


if __name__ == "__main__":
    server.run("stdio")
