"""Events off the device: the durable SQLite queue (write before send), the outbox that
survives a full or read-only card, MQTT with TLS and a last will, Home Assistant
discovery.

May import: ``maskwatch.core`` only (events arrive as plain payloads); never
``tracking`` or ``service``.
"""
