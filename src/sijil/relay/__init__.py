"""sijil.relay: the small exposed server that takes envelopes and holds no key.

Two halves, so that a correspondent's laptop never loads a web server:

    protocol   what both ends share: tus constants and header parsing, signed desk
               requests, reply mailboxes, the HTTP client (httpx, injectable transport)
    server     the ASGI relay (Starlette on uvicorn): tus intake, spool, desk pull
               API, mailboxes; it holds no key that opens anything

This module imports neither half.
"""
