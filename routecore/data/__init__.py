"""The data routecore ships with or reads: number segments (phone.dat, user CSV rows) and
China's public holidays, shared by both backends."""
