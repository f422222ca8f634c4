"""The pure voting core: no Django import, testable and auditable alone.

- ``canonical`` — RFC 8785 (JCS) canonical JSON for the values ballots and results hold.
- ``ballot`` — the ballot statement: building, parsing and checking its fields; the poll statement hash.
- ``tally`` — counting the ballots that count and applying the majority rule and quorum.
- ``evidence`` — checking a whole evidence folder offline (``ecabinet poll verify``).
"""
