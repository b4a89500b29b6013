"""Local emulators of each gateway's wire protocol, for tests, the demo and load tests."""
