"""sijil.relay.protocol: what the relay and its clients share; no web server in here.

tus       tus 1.0 constants and header parsing
auth      Ed25519-signed desk requests, replay guard, mailbox challenges, relay tokens
work      proof of work asked of senders without the relay token when the relay is busy
replies   sealed reply messages and mailbox ids
client    the HTTP client (httpx) used by ``field send``, ``desk pull`` and replies
"""
