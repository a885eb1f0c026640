"""Reconnect policy for Wi-Fi and MQTT: exponential backoff with jitter, capped, reset on success."""


class Backoff:
    def __init__(self, first_ms=500, max_ms=30000, factor=2):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.factor = factor
        self.current = first_ms

    def next_delay(self, jitter):
        """The delay before the next attempt; ``jitter`` in [0, 1) spreads a fleet's retries."""
        delay = self.current
        self.current = min(self.max_ms, self.current * self.factor)
        return int(delay * (0.75 + 0.5 * jitter))

    def reset(self):
        self.current = self.first_ms
