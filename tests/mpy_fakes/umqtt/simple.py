"""Fake of umqtt.simple.MQTTClient: records what the node sends, delivers what a test queues."""


class MQTTClient:
    instances = []

    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0):
        self.client_id, self.server, self.port, self.user = client_id, server, port, user
        self.published = []
        self.subscribed = []
        self.will = None
        self.cb = None
        self.incoming = []
        self.fail_connect = False
        MQTTClient.instances.append(self)

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain, qos)

    def set_callback(self, f):
        self.cb = f

    def connect(self, clean_session=True):
        if self.fail_connect:
            raise OSError("ECONNREFUSED")
        return 0

    def subscribe(self, topic, qos=0):
        self.subscribed.append((topic, qos))

    def publish(self, topic, msg, retain=False, qos=0):
        self.published.append((topic, msg, retain, qos))

    def check_msg(self):
        while self.incoming:
            topic, msg = self.incoming.pop(0)
            self.cb(topic, msg)

    def disconnect(self):
        pass
