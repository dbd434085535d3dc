"""Asterisk over AMI: connection, channel/bridge tracker, control, trace record and replay."""
