"""Asterisk adapter of routecore: the AGI/FastAGI protocol codec and its two transports."""
