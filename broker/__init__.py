"""The messaging layer of antre: the MQTT topic tree and the typed wire contract.

:mod:`broker.topics` builds and parses topics, :mod:`broker.messages` holds the
schemas, :mod:`broker.codec` encodes and validates payloads.  See PROTOCOL.md.
Importing this package imports no MQTT client.
"""
