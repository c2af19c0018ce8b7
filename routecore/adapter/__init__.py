"""The protocol-neutral base of routecore's PBX adapters: what Asterisk's and FreeSWITCH's share.

Both adapters (``routecore-asterisk``, ``routecore-freeswitch``) carry the engine's calls onto a
real PBX (``docs/features.md`` says where each feature is handled): they translate their protocol
into ``routecore.CallSession`` Events and its Actions into PBX commands; everything else they
share lives here, so neither holds a copy of the other:

- :mod:`~routecore.adapter.values`: the one check every value put into a PBX command passes;
- :mod:`~routecore.adapter.dialstrings`: dial-string templates per kind of number;
- :mod:`~routecore.adapter.media`: prompt files per 400 number (F2), recording paths (B8);
- :mod:`~routecore.adapter.config`: the options of both servers (command line and environment);
- :mod:`~routecore.adapter.runtime`: what a process opens once (image, state, call store);
- :mod:`~routecore.adapter.call`: one call's driver (session, keep-alives, the answer moment,
  release on any failure, the call's log line);
- :mod:`~routecore.adapter.blocking` and :mod:`~routecore.adapter.aio`: the driver's loop,
  blocking (a process per call) or on asyncio (a server); :mod:`~routecore.adapter.server`: the
  asyncio server (allow-list, graceful shutdown, worker processes);
- :mod:`~routecore.adapter.metrics`: the Prometheus endpoint.

This package imports nothing at import time: a process-per-call script pays only for what it
uses (``asyncio`` alone costs ~50 ms to import).
"""
