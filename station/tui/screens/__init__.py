"""The station's screens: sign-in, scan (home), badge, picker, lookup, confirm."""
