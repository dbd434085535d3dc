"""PBX adapters: translate a PBX's traffic into cti events, and cti commands into PBX actions."""
