"""Broker administration: who may publish and read what (:mod:`.acl`), per-identity secrets
(:mod:`.credentials`), the embedded laptop broker (:mod:`.embedded`, amqtt) and the
generated Mosquitto configuration (:mod:`.mosquitto`).  Only the central server and the
laptop demo need this; devices need the wire contract and the link.
"""
