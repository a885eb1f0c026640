"""antre: the queue controller for the gerai of Indonesian public service malls."""

__version__ = "0.1.0"
