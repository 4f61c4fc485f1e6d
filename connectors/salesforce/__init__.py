"""The Salesforce connector: ``client.SalesforceClient`` and the parts it is made of.

Nothing is imported here, so reading the vendor's identities or capabilities does not load the
client (see README.md); its emulator lives in ``sandbox/salesforce/``.
"""
