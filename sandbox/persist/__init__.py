"""The persistent sandbox: the emulators' state in one SQLite file under ``MOPSGATE_HOME``,
shared by every process that serves the sandbox (``store.SandboxStore``)."""
