"""station: on-site check-in and product redemption for conferences."""

__version__ = "0.1.0"
