"""Test set-up shared by every app: a private var/ per run, so tests never touch a real install."""

import os
import tempfile

os.environ.setdefault("ECABINET_VAR_DIR", tempfile.mkdtemp(prefix="ecabinet-test-var-"))
os.environ.setdefault("ECABINET_TESTING", "1")
