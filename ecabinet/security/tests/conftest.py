from ecabinet.security.tests.clamd_server import clamd_url  # noqa: F401 - a fixture
