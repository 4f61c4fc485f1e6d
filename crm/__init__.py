"""The vocabulary both sides of the house share: records and their references, the connector
protocol a vendor client implements, the vendor error tree, capabilities and call metering.

governance, tools, storage, connectors and the sandbox may import it; it imports none of them,
so the core can speak about vendors without knowing one.
"""
