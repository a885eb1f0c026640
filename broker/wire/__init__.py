"""The wire contract: the MQTT topic tree (:mod:`.topics`), the typed schemas of every
message (:mod:`.messages`) and their bounded decoding and validation (:mod:`.codec`).

Pure data and functions: no MQTT client, no I/O.  Read by every deployable.
"""
