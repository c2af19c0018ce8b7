"""FreeSWITCH adapter of routecore (``routecore-freeswitch``): an event socket (ESL) outbound
server that only translates ESL ↔ routecore Events/Actions (docs/freeswitch.md).

- :mod:`~routecore_freeswitch.codec`: the sans-IO ESL codec (framing, parsing, commands);
- :mod:`~routecore_freeswitch.connection`: one outbound socket on asyncio;
- :mod:`~routecore_freeswitch.calls`: the first Event from the channel data;
- :mod:`~routecore_freeswitch.applications`: Actions → dialplan applications;
- :mod:`~routecore_freeswitch.server`: the connection handler of the shared server;
- :mod:`~routecore_freeswitch.cli`: ``routecore-freeswitch serve``.
"""
