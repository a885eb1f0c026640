"""Messaging, shared by every deployable of antre (the central, gerai agents, lobbies).

* :mod:`antre.broker.wire`: the wire contract (topics, message schemas, codec); PROTOCOL.md;
* :mod:`antre.broker.link`: the MQTT connection, the link clock and the outbox;
* :mod:`antre.broker.admin`: identities, ACLs, credentials, the embedded broker, Mosquitto;
* :mod:`antre.broker.tomlfile`: typed TOML configuration files (site and device files).

Importing this package imports no MQTT client.
"""
