"""Station heartbeats and the organisers' dashboard feed, on real databases."""
