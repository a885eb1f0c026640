"""The link: one MQTT connection as every antre process uses it (:mod:`.client`, on paho),
a device's estimate of the central's clock (:mod:`.clock`) and its unanswered commands
(:mod:`.outbox`).
"""
