"""loopbound: find async resources bound to the wrong event loop before the test run does."""

__version__ = "0.1.0"
