"""The organisers' dashboard (`station dashboard`)."""
