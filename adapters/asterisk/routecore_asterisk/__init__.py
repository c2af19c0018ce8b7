"""Asterisk adapter of routecore: the AGI/FastAGI protocol codec and its two transports."""

import sys as _sys

if _sys.argv[1:2] == ["agi"]:  # a process per call: a hang-up (SIGHUP) may come at once
    from routecore_asterisk import _early

    _early.catch()
