"""The sandbox: in-process emulators of the Marketo, HubSpot and Salesforce REST APIs over one
deterministic synthetic data set, with switchable faults.

It depends on ``connectors`` (the vendors' identities, field tables and the common model) and
never the other way round: a client cannot tell an emulator from the vendor.
"""
